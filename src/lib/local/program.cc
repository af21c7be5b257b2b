#include "local/program.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>

#include "io/fd.h"
#include "local/message.h"

extern char** environ;

namespace qmail::local {

namespace {

// In the child: undo what the parent set up (run_program ignores SIGPIPE;
// a pending alarm handler), so the program starts as from a shell.
void reset_signals() {
  for (int sig : {SIGPIPE, SIGALRM, SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT}) {
    ::signal(sig, SIG_DFL);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

void write_errno_and_exit(int fd) {
  int e = errno;
  ssize_t ignored = ::write(fd, &e, sizeof e);
  (void)ignored;
  ::_exit(127);
}

Status wait_for(pid_t pid, ProgramResult& r) {
  int wstat = 0;
  pid_t got;
  while ((got = ::waitpid(pid, &wstat, 0)) < 0 && errno == EINTR) {
  }
  if (got != pid) return temp_sys("Unable to wait for program", errno, "4.3.0");
  if (WIFSIGNALED(wstat)) {
    r.signaled = true;
    r.code = WTERMSIG(wstat);
  } else {
    r.code = WEXITSTATUS(wstat);
  }
  return Status::ok();
}

// Reads what the exec-status pipe says: an errno if exec failed.
void read_exec_status(int fd, ProgramResult& r) {
  int e = 0;
  ssize_t n;
  while ((n = ::read(fd, &e, sizeof e)) < 0 && errno == EINTR) {
  }
  if (n == static_cast<ssize_t>(sizeof e)) {
    r.exec_failed = true;
    r.exec_errno = e;
  }
}

void keep_output(ProgramResult& r, const char* data, std::size_t n) {
  std::size_t room = kMaxProgramOutput - r.output.size();
  r.output.append(data, n < room ? n : room);
}

}  // namespace

Result<ProgramResult> run_shell(const std::string& command, int msgfd) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return temp_sys("Unable to make pipe", errno, "4.3.0");
  Fd out_r(out[0]), out_w(out[1]);
  int st[2];
  if (::pipe2(st, O_CLOEXEC) != 0) return temp_sys("Unable to make pipe", errno, "4.3.0");
  Fd st_r(st[0]), st_w(st[1]);
  pid_t pid = ::fork();
  if (pid < 0) return temp_sys("Unable to fork", errno, "4.3.0");
  if (pid == 0) {
    reset_signals();
    // dup2 clears close-on-exec on the copies 0, 1, 2.
    if (::dup2(msgfd, 0) < 0 || ::lseek(0, 0, SEEK_SET) != 0) write_errno_and_exit(st[1]);
    if (::dup2(out[1], 1) < 0 || ::dup2(out[1], 2) < 0) write_errno_and_exit(st[1]);
    const char* args[] = {"sh", "-c", command.c_str(), nullptr};
    ::execve("/bin/sh", const_cast<char**>(args), environ);
    write_errno_and_exit(st[1]);
  }
  out_w.reset();
  st_w.reset();
  ProgramResult r;
  // Read the output until EOF or until the program has exited (a
  // background grandchild may keep the pipe open; we do not wait for it).
  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  std::array<char, 8192> buf;
  bool exited = false;
  for (;;) {
    struct pollfd p[2] = {{out_r.get(), POLLIN, 0}, {pidfd.get(), POLLIN, 0}};
    int np = pidfd.valid() ? 2 : 1;
    if (exited) {
      // Drain what is already in the pipe, without waiting for more.
      if (::poll(p, 1, 0) <= 0) break;
    } else if (::poll(p, static_cast<nfds_t>(np), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[0].revents != 0) {
      ssize_t n = ::read(out_r.get(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // EOF: every writer has gone
      keep_output(r, buf.data(), static_cast<std::size_t>(n));
      continue;
    }
    if (np == 2 && p[1].revents != 0) exited = true;
  }
  QMAIL_RETURN_IF_ERROR(wait_for(pid, r));
  read_exec_status(st_r.get(), r);
  return r;
}

Result<ProgramResult> run_argv(const std::vector<std::string>& argv) {
  if (argv.empty()) return Status::perm("no program given");
  int st[2];
  if (::pipe2(st, O_CLOEXEC) != 0) return Status::temp_errno("unable to make pipe");
  Fd st_r(st[0]), st_w(st[1]);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return Status::temp_errno("unable to fork");
  if (pid == 0) {
    reset_signals();
    ::execvp(args[0], args.data());
    write_errno_and_exit(st[1]);
  }
  st_w.reset();
  ProgramResult r;
  QMAIL_RETURN_IF_ERROR(wait_for(pid, r));
  read_exec_status(st_r.get(), r);
  return r;
}

Outcome classify(const ProgramResult& r) {
  if (r.exec_failed || r.signaled) return Outcome::kTemp;
  switch (r.code) {
    case 0:
      return Outcome::kSuccess;
    case 99:
      return Outcome::kSuccessSkipRest;
    case 100:
    case 64:
    case 65:
    case 70:
    case 76:
    case 77:
    case 78:
    case 112:
      return Outcome::kPerm;
    default:
      return Outcome::kTemp;
  }
}

}  // namespace qmail::local
