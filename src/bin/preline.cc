// preline: prepend the From_, Return-Path and Delivered-To lines to the
// message and feed it to a command (preline(1)).
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "base/exit_codes.h"
#include "base/log.h"
#include "base/run_program.h"
#include "io/fd.h"
#include "io/io.h"

namespace {

int fail(int code, std::string_view msg) {
  qmail::log::fatal(msg);
  return code;
}

int body(std::span<char*> args) {
  bool with_dt = true, with_uf = true, with_rp = true;
  std::size_t i = 1;
  for (; i < args.size() && args[i][0] == '-' && args[i][1] != '\0'; ++i) {
    if (std::strcmp(args[i], "--") == 0) {
      ++i;
      break;
    }
    for (const char* p = args[i] + 1; *p; ++p) {
      switch (*p) {
        case 'd':
          with_dt = false;
          break;
        case 'f':
          with_uf = false;
          break;
        case 'r':
          with_rp = false;
          break;
        default:
          return fail(qmail::exitcode::kPerm, "usage: preline [ -dfr ] command [ arg ... ]");
      }
    }
  }
  if (i >= args.size()) {
    return fail(qmail::exitcode::kPerm, "usage: preline [ -dfr ] command [ arg ... ]");
  }
  // qmail-command(8) supplies these; without them we are not run from
  // qmail-local.
  std::string prefix;
  const std::pair<bool, const char*> wanted[] = {
      {with_uf, "UFLINE"}, {with_rp, "RPLINE"}, {with_dt, "DTLINE"}};
  for (const auto& [want, name] : wanted) {
    if (!want) continue;
    const char* v = std::getenv(name);
    if (v == nullptr) return fail(qmail::exitcode::kPerm, std::string(name) + " not set");
    prefix += v;
  }
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return fail(qmail::exitcode::kTemp, "unable to make pipe");
  qmail::Fd rd(p[0]), wr(p[1]);
  pid_t pid = ::fork();
  if (pid < 0) return fail(qmail::exitcode::kTemp, "unable to fork");
  if (pid == 0) {
    ::signal(SIGPIPE, SIG_DFL);
    if (::dup2(p[0], 0) < 0) ::_exit(qmail::exitcode::kTemp);
    ::execvp(args[i], args.data() + i);
    qmail::log::fatal(std::string("unable to run ") + args[i] + ": " + std::strerror(errno));
    ::_exit(qmail::exitcode::kTemp);
  }
  rd.reset();
  // A command that stops reading early is its own business: its exit code
  // decides, so write errors (EPIPE) are not fatal.
  if (qmail::io::write_all(wr.get(), prefix).is_ok()) {
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(0, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (!qmail::io::write_all(wr.get(), std::string_view(buf, static_cast<std::size_t>(n)))
               .is_ok()) {
        break;
      }
    }
  }
  wr.reset();
  int wstat;
  while (::waitpid(pid, &wstat, 0) < 0) {
    if (errno != EINTR) return fail(qmail::exitcode::kTemp, "unable to wait for command");
  }
  if (WIFSIGNALED(wstat)) return fail(qmail::exitcode::kTemp, "command crashed");
  return WEXITSTATUS(wstat);
}

}  // namespace

int main(int argc, char** argv) { return qmail::run_program("preline", argc, argv, body); }
