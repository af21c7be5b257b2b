// predate(1): runs a program with "Date: <local time>" and then the
// standard input on its standard input.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <ctime>
#include <string>

#include "base/exit_codes.h"
#include "base/log.h"
#include "base/run_program.h"
#include "header/date.h"
#include "io/io.h"

namespace {

int predate_main(std::span<char*> args) {
  if (args.size() < 2 || !args[1]) {
    qmail::log::raw("predate: usage: predate child");
    return qmail::exitcode::kPerm;
  }
  int pi[2];
  if (::pipe2(pi, O_CLOEXEC) != 0) {
    qmail::log::fatal("unable to create pipe");
    return qmail::exitcode::kTemp;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    qmail::log::fatal("unable to fork");
    return qmail::exitcode::kTemp;
  }
  if (pid == 0) {
    ::signal(SIGPIPE, SIG_DFL);
    if (::dup2(pi[0], 0) != 0) ::_exit(qmail::exitcode::kTemp);
    ::execvp(args[1], args.data() + 1);
    qmail::log::fatal(std::string("unable to run ") + args[1]);
    ::_exit(qmail::exitcode::kTemp);
  }
  ::close(pi[0]);
  // A child that stops reading early just loses the rest; its exit code
  // is what counts.
  std::string date = "Date: " + qmail::header::format_date(std::time(nullptr), true) + "\n";
  if (qmail::io::write_all(pi[1], date).is_ok()) {
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(0, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (!qmail::io::write_all(pi[1], std::string_view(buf, static_cast<std::size_t>(n))).is_ok())
        break;
    }
  }
  ::close(pi[1]);
  int wstat = 0;
  while (::waitpid(pid, &wstat, 0) < 0) {
    if (errno != EINTR) {
      qmail::log::fatal("wait failed");
      return qmail::exitcode::kTemp;
    }
  }
  if (!WIFEXITED(wstat)) {
    qmail::log::fatal("child crashed");
    return qmail::exitcode::kTemp;
  }
  return WEXITSTATUS(wstat);
}

}  // namespace

int main(int argc, char** argv) { return qmail::run_program("predate", argc, argv, predate_main); }
