#include "queue/inject.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>

#include "base/exit_codes.h"
#include "base/kept.h"
#include "base/run_program.h"
#include "fs/fs.h"
#include "home/home.h"
#include "io/io.h"
#include "queue/enqueue.h"
#include "queue/layout.h"
#include "queue/main.h"
#include "queue/serve.h"
#include "spawn/builtin.h"

namespace qmail::queue {

namespace {

// Message bytes are gathered up to this size before one write to the pipe.
inline constexpr std::size_t kBufferSize = 64 * 1024;
Kept<std::string> g_kept_buffer;

// qmail's qmail_open: a child that cannot exec qmail-queue exits 120
// (queue_exit::kExecFailed), which callers report as "unable to exec qq".
using queue_exit::kExecFailed;

// Runs in the forked child: only async-signal-safe calls until exec.
// `builtin`: run our qmail-queue's code here instead (spawn/builtin.h).
[[noreturn]] void exec_child(const char* prog, int msg_fd, int env_fd, int err_fd, bool builtin) {
  // Move both ends above 2 first, so that dup2 onto 0 and 1 can never
  // clobber the other one (a caller may have started with fd 0 or 1 closed),
  // and descriptor 6's above 6.
  int m = ::fcntl(msg_fd, F_DUPFD_CLOEXEC, 3);
  int e = ::fcntl(env_fd, F_DUPFD_CLOEXEC, 3);
  int x = err_fd < 0 ? -1 : ::fcntl(err_fd, F_DUPFD_CLOEXEC, 7);
  if (m < 0 || e < 0 || (err_fd >= 0 && x < 0)) ::_exit(kExecFailed);
  if (::dup2(m, 0) != 0 || ::dup2(e, 1) != 1) ::_exit(kExecFailed);
  if (x >= 0 && ::dup2(x, 6) != 6) ::_exit(kExecFailed);
  // Nothing but fds 0, 1, 2 (and 6) reaches qmail-queue, even descriptors
  // the caller forgot to mark close-on-exec.
  auto close_from_to = [](unsigned first, unsigned last) {
    if (::close_range(first, last, 0) == 0) return;
    long max = ::sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > INT_MAX) max = 65536;
    for (long fd = first; fd < max && fd <= static_cast<long>(last); ++fd)
      ::close(static_cast<int>(fd));
  };
  if (x >= 0) {
    close_from_to(3, 5);
    close_from_to(7, ~0U);
  } else {
    close_from_to(3, ~0U);
  }
  // run_program ignores SIGPIPE; a $QMAILQUEUE filter must get the default.
  ::signal(SIGPIPE, SIG_DFL);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  char* const argv[] = {const_cast<char*>(prog), nullptr};
  if (builtin) {
    spawn::reset_signals_as_exec();
    ::prctl(PR_SET_NAME, "qmail-queue");
    char* args[] = {const_cast<char*>("qmail-queue"), nullptr};
    ::_exit(run_program("qmail-queue", 1, args, queue_main, queue_exit::kOutOfMemory));
  }
  ::execv(prog, argv);
  ::_exit(kExecFailed);
}

// An in-process run is under way (at most one per process: Enqueuer's
// files are known to its SIGALRM cleanup one set at a time).
bool g_in_process = false;

// qmail-queue's files get mode 0644 whatever the caller's umask
// (queue_main sets 033); restored when the step is done.
class QueueUmask {
 public:
  QueueUmask() : old_(::umask(033)) {}
  ~QueueUmask() { ::umask(old_); }
  QueueUmask(const QueueUmask&) = delete;
  QueueUmask& operator=(const QueueUmask&) = delete;

 private:
  mode_t old_;
};

// An unfinished run: qmail-queue has not been given an envelope, so it
// cannot have committed anything; killing it queues nothing (qmail-clean
// removes whatever scratch files it leaves).
void abandon(pid_t& pid, Fd& message, Fd& envelope) {
  message.reset();
  envelope.reset();
  if (pid <= 0) return;
  ::kill(pid, SIGKILL);
  int wstat;
  while (::waitpid(pid, &wstat, 0) < 0 && errno == EINTR) {
  }
  pid = -1;
}

}  // namespace

// qmail-queue started without a copy of the caller's memory: posix_spawn
// (a vfork-like clone) with what exec_child does as its file actions and
// attributes. fork() copied the page tables of a qmail-smtpd worker for
// every message, and the exec then tore the copy down again (clone,
// copy-on-write faults and exec were 9% of all samples of SMTP in with a
// root-mode home, where qmail-queue is setuid and always exec'd). Returns
// the pid, or -1 when posix_spawn fails (the caller then forks as before,
// so a program that cannot be run still makes its child exit 120).
pid_t spawn_queue(const char* prog, int msg_fd, int env_fd, int err_fd) {
  // Above 2 first, so that the dup2s onto 0 and 1 cannot clobber each other
  // (and descriptor 6's above 6).
  Fd m(::fcntl(msg_fd, F_DUPFD_CLOEXEC, 3)), e(::fcntl(env_fd, F_DUPFD_CLOEXEC, 3));
  Fd x(err_fd < 0 ? -1 : ::fcntl(err_fd, F_DUPFD_CLOEXEC, 7));
  if (!m.valid() || !e.valid() || (err_fd >= 0 && !x.valid())) return -1;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  if (::posix_spawn_file_actions_init(&fa) != 0) return -1;
  if (::posix_spawnattr_init(&attr) != 0) {
    ::posix_spawn_file_actions_destroy(&fa);
    return -1;
  }
  sigset_t none, pipe;
  ::sigemptyset(&none);
  ::sigemptyset(&pipe);
  ::sigaddset(&pipe, SIGPIPE);  // run_program ignores it; qmail-queue gets the default
  // glibc's close actions ignore a descriptor that is not open.
  bool ok = ::posix_spawn_file_actions_adddup2(&fa, m.get(), 0) == 0 &&
            ::posix_spawn_file_actions_adddup2(&fa, e.get(), 1) == 0 &&
            (x.valid() ? ::posix_spawn_file_actions_adddup2(&fa, x.get(), 6) == 0 &&
                             ::posix_spawn_file_actions_addclose(&fa, 3) == 0 &&
                             ::posix_spawn_file_actions_addclose(&fa, 4) == 0 &&
                             ::posix_spawn_file_actions_addclose(&fa, 5) == 0 &&
                             ::posix_spawn_file_actions_addclosefrom_np(&fa, 7) == 0
                       : ::posix_spawn_file_actions_addclosefrom_np(&fa, 3) == 0) &&
            ::posix_spawnattr_setsigmask(&attr, &none) == 0 &&
            ::posix_spawnattr_setsigdefault(&attr, &pipe) == 0 &&
            ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) == 0;
  pid_t pid = -1;
  char* const argv[] = {const_cast<char*>(prog), nullptr};
  if (ok && ::posix_spawn(&pid, prog, &fa, &attr, argv, environ) != 0) pid = -1;
  ::posix_spawn_file_actions_destroy(&fa);
  ::posix_spawnattr_destroy(&attr);
  return pid;
}

namespace {

// Is `prog` (stat'ed as `st`) our own qmail-queue? The mark is looked for
// again only when the file changed (a reused qmail-smtpd queues many
// messages). A file we cannot read is not known to be ours -- unless it
// was recognized earlier, under the same identity, by a process that
// could read it (Submission::recognize_queue_program).
bool is_our_queue(const std::string& prog, const struct stat& st) {
  static std::string seen_path;
  static struct stat seen_st {};
  static bool seen_mark = false;
  if (prog != seen_path || !fs::same_file(st, seen_st)) {
    seen_path = prog;
    seen_st = st;
    seen_mark = spawn::carries_mark(prog, QMAIL_BUILTIN_MARK_QUEUE);
  }
  return seen_mark;
}

}  // namespace

void Submission::recognize_queue_program() {
  std::string prog = home::path("bin/qmail-queue");
  struct stat st;
  if (::stat(prog.c_str(), &st) == 0) (void)is_our_queue(prog, st);
}

int Submission::enable_server() { return QueueServer::get().reserve_slot(); }

void Submission::stop_server() { QueueServer::get().stop(); }

Result<Submission> Submission::start() {
  std::string prog;
  // qmail-queue(8), "QMAILQUEUE": an alternative program, except in a
  // setuid or setgid process, whose environment is not trusted.
  const char* alt = home::is_setugid() ? nullptr : std::getenv("QMAILQUEUE");
  bool builtin = false;
  if (alt && *alt) {
    prog = alt;
  } else {
    prog = home::path("bin/qmail-queue");
    struct stat st;
    if (::stat(prog.c_str(), &st) == 0 && is_our_queue(prog, st)) {
      if (!(st.st_mode & (S_ISUID | S_ISGID))) {
        // Our own qmail-queue, not set-id (a single-user home, where it
        // runs as its caller anyway): its code runs in the child without
        // exec.
        builtin = true;
      } else if (QueueServer& server = QueueServer::get(); server.enabled() && !server.busy()) {
        // Set-id (a root home): the uid change is the point, so it runs
        // as its own process -- in a process that asked for it, one that
        // stays for message after message (queue/serve.h).
        if (server.begin(prog).is_ok()) {
          Submission s;
          s.served_ = true;
          s.pid_ = server.pid();
          s.take_buffer();
          return s;
        }
      }
    }
  }
  if (builtin && !g_in_process) {
    // No process at all (inject.h): what the child would do, done here.
    Submission s;
    QMAIL_RETURN_IF_ERROR(s.start_in_process());
    return s;
  }

  int mp[2], ep[2];
  if (::pipe2(mp, O_CLOEXEC) != 0) return Status::temp_errno("unable to create pipe");
  Fd msg_r(mp[0]), msg_w(mp[1]);
  if (::pipe2(ep, O_CLOEXEC) != 0) return Status::temp_errno("unable to create pipe");
  Fd env_r(ep[0]), env_w(ep[1]);
  // qmail-queue(8), exit 82: a program offering its interface may write
  // its own reason to descriptor 6. Read only after it exited; both ends
  // non-blocking, so a program that writes more than the pipe holds gets
  // EAGAIN instead of waiting for us while we wait for it. Without the
  // pipe it runs without descriptor 6 (its 82 is then a temporary error).
  int xp[2];
  Fd err_r, err_w;
  if (::pipe2(xp, O_CLOEXEC | O_NONBLOCK) == 0) {
    err_r.reset(xp[0]);
    err_w.reset(xp[1]);
  }

  pid_t pid = builtin ? -1 : spawn_queue(prog.c_str(), msg_r.get(), env_r.get(), err_w.get());
  if (pid < 0) {
    pid = ::fork();
    if (pid < 0) return Status::temp_errno("unable to fork");
    if (pid == 0) exec_child(prog.c_str(), msg_r.get(), env_r.get(), err_w.get(), builtin);
  }

  Submission s;
  s.pid_ = pid;
  s.message_ = std::move(msg_w);
  s.envelope_ = std::move(env_w);
  s.custom_ = std::move(err_r);
  s.take_buffer();
  return s;
}

void Submission::end_in_process() {
  enq_.reset();  // unfinished: ~Enqueuer removes its files
  g_in_process = false;
  pid_ = -1;
}

Status Submission::start_in_process() {
  g_in_process = true;
  pid_ = ::getpid();
  take_buffer();
  std::string received;
  code_ = queue_prepare(::getuid(), pid_, &received);
  enq_ = std::make_unique<Enqueuer>(Layout::from_home(), ::getuid(), pid_);
  if (code_ == 0) {
    QueueUmask mask;
    code_ = enq_->begin(received);
  }
  return Status::ok();
}

Submission::Submission(Submission&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)),
      enq_(std::move(o.enq_)),
      code_(o.code_),
      message_(std::move(o.message_)),
      envelope_(std::move(o.envelope_)),
      custom_(std::move(o.custom_)),
      custom_error_(std::move(o.custom_error_)),
      buf_(std::move(o.buf_)),
      broken_(o.broken_),
      served_(std::exchange(o.served_, false)) {}

Submission& Submission::operator=(Submission&& o) noexcept {
  if (this != &o) {
    if (enq_) end_in_process();
    if (served_) end_served();
    abandon(pid_, message_, envelope_);
    pid_ = std::exchange(o.pid_, -1);
    enq_ = std::move(o.enq_);
    code_ = o.code_;
    message_ = std::move(o.message_);
    envelope_ = std::move(o.envelope_);
    custom_ = std::move(o.custom_);
    custom_error_ = std::move(o.custom_error_);
    buf_ = std::move(o.buf_);
    broken_ = o.broken_;
    served_ = std::exchange(o.served_, false);
  }
  return *this;
}

Submission::~Submission() {
  // Unfinished: nothing is queued.
  if (enq_)
    end_in_process();
  else if (served_)
    end_served();
  else
    abandon(pid_, message_, envelope_);
  if (buf_.capacity() >= kBufferSize) g_kept_buffer.give(std::move(buf_));
}

// The same buffer for every message of a process that queues one after
// another (base/kept.h).
void Submission::take_buffer() {
  buf_ = g_kept_buffer.take();
  buf_.clear();
  buf_.reserve(kBufferSize);
}

void Submission::end_served() {
  QueueServer::get().abort();
  served_ = false;
  pid_ = -1;
}

// Hands message bytes to qmail-queue: its pipe, or the in-process
// Enqueuer. On failure the Submission is broken; finish() reports why.
Status Submission::write_out(std::string_view data) {
  if (enq_) {
    if (code_ == 0) code_ = enq_->write(data);
    if (code_ == 0) return Status::ok();
    broken_ = true;
    return Status::temp("qmail-queue went away");
  }
  if (served_) {
    if (broken_) return Status::temp("qmail-queue went away");
    Status s = QueueServer::get().send(kServeMessage, data);
    if (!s.is_ok()) broken_ = true;
    return s;
  }
  if (broken_ || !message_.valid()) return Status::temp("qmail-queue went away");
  Status s = io::write_all(message_.get(), data);
  if (!s.is_ok()) {
    // EPIPE: qmail-queue exited; its exit code (from finish) says why.
    broken_ = true;
    return Status::temp("unable to write to qmail-queue: " + s.message());
  }
  return Status::ok();
}

Status Submission::flush() {
  if (buf_.empty()) return Status::ok();
  Status s = write_out(buf_);
  buf_.clear();
  return s;
}

Status Submission::put(std::string_view bytes) {
  if (broken_) return Status::temp("qmail-queue went away");
  if (buf_.size() + bytes.size() <= kBufferSize) {
    buf_.append(bytes);
    return Status::ok();
  }
  QMAIL_RETURN_IF_ERROR(flush());
  if (bytes.size() >= kBufferSize) return write_out(bytes);
  buf_.append(bytes);
  return Status::ok();
}

Status Submission::put_fd(int fd) {
  char chunk[kBufferSize];
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::temp_errno("unable to read message");
    }
    if (n == 0) return Status::ok();
    QMAIL_RETURN_IF_ERROR(put(std::string_view(chunk, static_cast<std::size_t>(n))));
  }
}

Result<int> Submission::finish(std::string_view sender,
                               const std::vector<std::string>& recipients) {
  if (pid_ <= 0) return Status::temp("qmail-queue is not running");
  (void)flush();  // a failure shows as broken_ and in the exit code
  message_.reset();

  std::string env;
  env.reserve(sender.size() + 3);
  env += 'F';
  env += sender;
  env += '\0';
  for (const auto& r : recipients) {
    env += 'T';
    env += r;
    env += '\0';
  }
  env += '\0';
  if (enq_) {
    if (code_ == 0) {
      QueueUmask mask;
      code_ = enq_->commit(env);
    }
    if (code_ == 0) pull_trigger(Layout::from_home());
    end_in_process();
    return code_;
  }
  if (served_) {
    // A server that went away mid-message has its exit code (or its
    // answer, sent before it went) waiting for result().
    QueueServer& server = QueueServer::get();
    if (!broken_ && !server.send(kServeEnvelope, env).is_ok()) broken_ = true;
    served_ = false;
    pid_ = -1;
    Result<int> code = server.result();
    if (code.is_ok() && *code == queue_exit::kOk && broken_) return queue_exit::kReadError;
    return code;
  }
  if (!io::write_all(envelope_.get(), env).is_ok()) broken_ = true;
  envelope_.reset();

  int wstat = 0;
  pid_t got;
  while ((got = ::waitpid(pid_, &wstat, 0)) < 0 && errno == EINTR) {
  }
  pid_t pid = std::exchange(pid_, -1);
  if (got != pid) return Status::temp_errno("unable to wait for qmail-queue");
  if (!WIFEXITED(wstat)) return Status::temp("qmail-queue crashed (#4.3.0)");
  int code = WEXITSTATUS(wstat);
  // qmail's qmail_close: success after we failed to hand over every byte
  // cannot be trusted; report it as a read error.
  if (code == queue_exit::kOk && broken_) return queue_exit::kReadError;
  if (code == queue_exit::kCustomError && custom_.valid()) {
    // Whatever it wrote before it exited is in the pipe (bounded: one
    // line of a reply is all a client is told).
    char buf[1024];
    ssize_t n;
    while ((n = ::read(custom_.get(), buf, sizeof buf)) < 0 && errno == EINTR) {
    }
    if (n > 0) custom_error_.assign(buf, static_cast<std::size_t>(n));
  }
  custom_.reset();
  return code;
}

Submission::Refusal Submission::refusal(int code) const {
  if (code == queue_exit::kCustomError) {
    // One short line of printable ASCII: it becomes a reply line (RFC
    // 5321 4.5.3.1.5: a reply line is at most 512 octets).
    constexpr std::size_t kMaxText = 400;
    std::string_view text(custom_error_);
    text = text.substr(0, text.find_first_of("\r\n"));
    if (text.size() > 1 && (text[0] == 'D' || text[0] == 'Z')) {
      std::string clean(text.substr(1, kMaxText));
      for (char& c : clean)
        if (static_cast<unsigned char>(c) < 32 || static_cast<unsigned char>(c) >= 127) c = '?';
      return {text[0] == 'D', clean};
    }
  }
  return {queue_exit::is_perm(code), queue_exit::describe(code)};
}

}  // namespace qmail::queue
