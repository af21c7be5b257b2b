#include "send/start.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <climits>
#include <string>
#include <vector>

#include "home/home.h"
#include "priv/priv.h"
#include "spawn/builtin.h"

namespace qmail::send {

namespace {

// Only async-signal-safe work between fork and exec.
void close_from(int first) {
  if (::close_range(static_cast<unsigned>(first), ~0U, 0) != 0) {
    long max = ::sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > INT_MAX) max = 65536;
    for (int fd = first; fd < max; ++fd) ::close(fd);
  }
}

// Puts `from[i]` on descriptor i for every i, closes everything else,
// switches ids and execs. `from` holds descriptors >= 10 only, so dup2
// never clobbers a source. Never returns; exits 111 on failure.
[[noreturn]] void exec_with(const std::vector<int>& from, uid_t uid, gid_t gid, bool switch_ids,
                            const std::string& prog, std::vector<std::string> args, bool search,
                            bool ignore_term = false) {
  for (std::size_t i = 0; i < from.size(); ++i)
    if (::dup2(from[i], static_cast<int>(i)) != static_cast<int>(i)) ::_exit(111);
  close_from(static_cast<int>(from.size()));
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(SIGPIPE, &dfl, nullptr);
  // The spawners and qmail-clean outlive a TERM to the process group from
  // their first instruction on: they end when qmail-send closes their
  // command pipe (an ignored signal stays ignored across exec).
  if (ignore_term) ::signal(SIGTERM, SIG_IGN);
  // qmail-start blocks TERM while it wires things up, so that a TERM to
  // the group cannot kill a child before it is ready. qmail-send keeps it
  // blocked across exec and unblocks it once its handler is in place.
  if (prog.size() < 10 || prog.compare(prog.size() - 10, 10, "qmail-send") != 0) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
  }
  if (switch_ids && !priv::become(uid, gid).is_ok()) ::_exit(111);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (search)
    ::execvp(prog.c_str(), argv.data());
  else
    ::execv(prog.c_str(), argv.data());
  ::_exit(111);
}

struct Pipe {
  int r = -1, w = -1;
};

Result<Pipe> make_pipe() {
  int p[2];
  if (::pipe(p) != 0) return Status::temp_errno("pipe");
  // Above the range the children's descriptors are assembled in.
  Pipe out{::fcntl(p[0], F_DUPFD_CLOEXEC, 10), ::fcntl(p[1], F_DUPFD_CLOEXEC, 10)};
  ::close(p[0]);
  ::close(p[1]);
  if (out.r < 0 || out.w < 0) return Status::temp_errno("fcntl");
  return out;
}

Result<pid_t> spawn(const std::vector<int>& from, uid_t uid, gid_t gid, bool switch_ids,
                    const std::string& prog, std::vector<std::string> args, bool search = false,
                    bool ignore_term = false) {
  pid_t pid = ::fork();
  if (pid < 0) return Status::temp_errno("fork");
  if (pid == 0) exec_with(from, uid, gid, switch_ids, prog, std::move(args), search, ignore_term);
  return pid;
}

}  // namespace

Status start_main(std::span<char*> args) {
  std::string defaultdelivery = args.size() > 1 ? args[1] : "./Mailbox";
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ::sigprocmask(SIG_BLOCK, &term, nullptr);
  if (::chdir(home::dir().c_str()) != 0) return Status::temp_errno("chdir home");
  QMAIL_ASSIGN_OR_RETURN(home::Ids ids, home::load_ids());

  // qmail-send's log: the logger's stdin, or our own stdout.
  int log_w = -1;
  if (args.size() > 2) {
    QMAIL_ASSIGN_OR_RETURN(Pipe lp, make_pipe());
    std::vector<std::string> largs(args.begin() + 2, args.end());
    auto lg = spawn({lp.r, ::fcntl(1, F_DUPFD_CLOEXEC, 10), ::fcntl(2, F_DUPFD_CLOEXEC, 10)},
                    ids.qmaill, ids.nofiles, true, largs[0], largs, true);
    if (!lg.is_ok()) return lg.status();
    ::close(lp.r);
    log_w = lp.w;
  } else {
    log_w = ::fcntl(1, F_DUPFD_CLOEXEC, 10);
    if (log_w < 0) return Status::temp_errno("no stdout");
  }
  int err = ::fcntl(2, F_DUPFD_CLOEXEC, 10);
  if (err < 0) err = ::open("/dev/null", O_WRONLY | O_CLOEXEC);

  QMAIL_ASSIGN_OR_RETURN(Pipe lcmd, make_pipe());
  QMAIL_ASSIGN_OR_RETURN(Pipe lres, make_pipe());
  QMAIL_ASSIGN_OR_RETURN(Pipe rcmd, make_pipe());
  QMAIL_ASSIGN_OR_RETURN(Pipe rres, make_pipe());
  QMAIL_ASSIGN_OR_RETURN(Pipe ccmd, make_pipe());
  QMAIL_ASSIGN_OR_RETURN(Pipe cres, make_pipe());

  // qmail-lspawn stays root: it switches to each recipient's uid.
  auto l = spawn({lcmd.r, lres.w, err}, 0, 0, false, home::path("bin/qmail-lspawn"),
                 {"qmail-lspawn", defaultdelivery}, false, true);
  if (!l.is_ok()) return l.status();
  // qmail-rspawn runs as qmailr, which may not read bin/qmail-remote
  // (mode 0711): whether it is our own program is found out here
  // (spawn/builtin.h). Only qmail-rspawn gets the answer.
  ::unsetenv(spawn::kRemoteMarkVar);
  std::string token = spawn::mark_token(home::path("bin/qmail-remote"), QMAIL_BUILTIN_MARK_REMOTE);
  if (!token.empty()) ::setenv(spawn::kRemoteMarkVar, token.c_str(), 1);
  auto r = spawn({rcmd.r, rres.w, err}, ids.qmailr, ids.qmail, true, home::path("bin/qmail-rspawn"),
                 {"qmail-rspawn"}, false, true);
  ::unsetenv(spawn::kRemoteMarkVar);
  if (!r.is_ok()) return r.status();
  auto c = spawn({ccmd.r, cres.w, err}, ids.qmailq, ids.qmail, true, home::path("bin/qmail-clean"),
                 {"qmail-clean"}, false, true);
  if (!c.is_ok()) return c.status();

  // Ourselves: qmail-send(8)'s descriptors 0..6.
  exec_with({log_w, lcmd.w, lres.r, rcmd.w, rres.r, ccmd.w, cres.r}, ids.qmails, ids.qmail, true,
            home::path("bin/qmail-send"), {"qmail-send"}, false);
}

}  // namespace qmail::send
