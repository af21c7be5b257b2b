#include "queue/enqueue.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "base/exit_codes.h"
#include "fs/fs.h"
#include "io/fd.h"
#include "queue/envelope.h"
#include "queue/recycle.h"

namespace qmail::queue {

namespace {

// Message and envelope are copied through a buffer of this size.
inline constexpr std::size_t kChunk = 64 * 1024;

// Paths of the files the current enqueue() has made, for the SIGALRM
// handler, which may only use async-signal-safe calls: fixed buffers, set
// before the file exists, cleared when it is no longer ours to remove.
struct Scratch {
  char path[4096];
  volatile std::sig_atomic_t armed;
};
Scratch g_pid{}, g_mess{}, g_intd{};

void remember(Scratch& s, const std::string& path) {
  s.armed = 0;
  std::size_t n = path.size() < sizeof s.path - 1 ? path.size() : sizeof s.path - 1;
  std::memcpy(s.path, path.data(), n);
  s.path[n] = '\0';
  s.armed = 1;
}

void drop(Scratch& s) {
  if (s.armed) ::unlink(s.path);
  s.armed = 0;
}

void forget(Scratch& s) { s.armed = 0; }

// intd/<id> goes before the mess file: while the mess file (or the pid
// file) exists, its inode -- the id -- cannot be handed to another
// qmail-queue, whose intd/<id> we would otherwise remove.
void drop_all() {
  drop(g_intd);
  drop(g_mess);
  drop(g_pid);
}

extern "C" void on_alarm(int) {
  drop_all();
  ::_exit(queue_exit::kTimeout);
}

// A failed create/link/write because the disk is full is qmail-queue's 53,
// whatever directory it happened in.
bool disk_full(int err) { return err == ENOSPC || err == EDQUOT; }

int write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return queue_exit::kWriteError;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return 0;
}

ssize_t read_some(int fd, char* buf, std::size_t n) {
  for (;;) {
    ssize_t r = ::read(fd, buf, n);
    if (r >= 0 || errno != EINTR) return r;
  }
}

int open_excl(const std::string& path, int dir_code, Fd& out) {
  for (;;) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
      out.reset(fd);
      return 0;
    }
    if (errno == EINTR) continue;
    return disk_full(errno) ? queue_exit::kWriteError : dir_code;
  }
}

int link_to(const std::string& from, const std::string& to, int dir_code) {
  if (::link(from.c_str(), to.c_str()) == 0) return 0;
  return disk_full(errno) ? queue_exit::kWriteError : dir_code;
}

int sync_dir(const std::string& dir) {
  return fs::fsync_dir(dir).is_ok() ? 0 : queue_exit::kWriteError;
}

// Copies the message from `in` to the mess file.
int copy_message(int in, int out, char* buf) {
  for (;;) {
    ssize_t n = read_some(in, buf, kChunk);
    if (n < 0) return queue_exit::kReadError;
    if (n == 0) return 0;
    if (int rc = write_all(out, std::string_view(buf, static_cast<std::size_t>(n)))) return rc;
  }
}

// Checks the envelope from `in` as it arrives and copies its records
// (without the final NUL) to the intd file.
int copy_envelope(int in, int out, char* buf) {
  EnvelopeParser parser;
  for (;;) {
    ssize_t n = read_some(in, buf, kChunk);
    if (n < 0) return queue_exit::kReadError;
    if (n == 0) {
      parser.eof();
    } else {
      std::string_view chunk(buf, static_cast<std::size_t>(n));
      std::size_t used = parser.feed(chunk);
      if (parser.done()) --used;  // the terminating NUL is not stored
      if (parser.error() == EnvelopeParser::Error::kNone) {
        if (int rc = write_all(out, chunk.substr(0, used))) return rc;
      }
    }
    switch (parser.error()) {
      case EnvelopeParser::Error::kTooLong:
        return queue_exit::kAddressTooLong;
      case EnvelopeParser::Error::kFormat:
        return queue_exit::kEnvelopeFormat;
      case EnvelopeParser::Error::kNone:
        break;
    }
    if (parser.done()) return 0;
  }
}

int run(const Layout& q, const EnqueueRequest& req, char* buf) {
  // Before anything: a missing or unreadable queue is 62.
  {
    auto d = fs::open_dir(q.root());
    if (!d.is_ok()) return queue_exit::kQueueFiles;
  }

  // The pid-file trick: a fresh file's inode number is a message id no
  // other message in the queue has (mess is on the same filesystem as pid,
  // qmail-queue(8) FILESYSTEM RESTRICTIONS). Crash from here until the
  // unlink below: a stale pid/<pid>, which qmail-clean removes after 36
  // hours.
  std::string pid_path = q.pid_file(static_cast<long>(req.pid));
  ::unlink(pid_path.c_str());  // left by a dead process that had our pid
  remember(g_pid, pid_path);
  // A recycled inode if there is one (queue/recycle.h): creating a file
  // is expensive on a filesystem without a journal.
  FreePool pool(q);
  Fd mess;
  if (pool.take(pid_path, mess) != FreePool::Take::kTaken) {
    if (int rc = open_excl(pid_path, qq_exit::kPidDir, mess)) {
      forget(g_pid);
      return rc;
    }
  }
  struct stat st;
  if (::fstat(mess.get(), &st) != 0) return qq_exit::kPidDir;
  const std::uint64_t id = st.st_ino;

  // Crash from here until the commit: a mess file without todo/<id> (and
  // maybe an intd file with one link). Nobody has been told anything yet;
  // qmail-send removes such a mess file once it is 36 hours old (it has no
  // info/<id> either), and qmail-clean an old intd file with one link.
  std::string mess_path = q.mess(id);
  remember(g_mess, mess_path);
  if (int rc = link_to(pid_path, mess_path, qq_exit::kMessDir)) {
    forget(g_mess);
    return rc;
  }
  drop(g_pid);

  // The message: our Received line, then fd 0 verbatim (8-bit clean).
  if (int rc = write_all(mess.get(), req.received)) return rc;
  if (int rc = copy_message(req.message_fd, mess.get(), buf)) return rc;

  // The envelope, in intd/<id>; qmail-send never looks at intd.
  std::string intd_path = q.intd(id);
  remember(g_intd, intd_path);
  Fd intd;
  FreePool::Take took = pool.take(intd_path, intd);
  if (took == FreePool::Take::kExists) {
    forget(g_intd);  // not ours
    return qq_exit::kIntdDir;
  }
  if (took == FreePool::Take::kNone) {
    if (int rc = open_excl(intd_path, qq_exit::kIntdDir, intd)) {
      forget(g_intd);
      return rc;
    }
  }
  std::string head;
  head += 'u';
  head += std::to_string(req.uid);
  head += '\0';
  head += 'p';
  head += std::to_string(req.pid);
  head += '\0';
  if (int rc = write_all(intd.get(), head)) return rc;
  if (int rc = copy_envelope(req.envelope_fd, intd.get(), buf)) return rc;

  // Before todo/<id> may name them: the message bytes, the mess/<s>/<id>
  // name and the envelope bytes (todo/<id> will be a second name of the
  // intd inode) must be on disk. The three fsyncs are issued together:
  // one wait for the disk instead of three.
  if (!fs::fsync_all({&mess, &intd}, {q.split_dir("mess", id)}).is_ok())
    return queue_exit::kWriteError;
  if (::close(mess.release()) != 0) return queue_exit::kWriteError;
  if (::close(intd.release()) != 0) return queue_exit::kWriteError;

  // The commit. From the link on, qmail-send may take the message at any
  // moment, so nothing may be removed any more, not even by the timeout.
  ::alarm(0);
  std::string todo_path = q.todo(id);
  if (int rc = link_to(intd_path, todo_path, qq_exit::kTodoDir)) return rc;
  forget(g_intd);
  forget(g_mess);
  // Crash before this fsync completes: todo/<id> may vanish, and the
  // message is then unfinished as above -- but we have not said 0 yet, so
  // the sender still holds it. If the fsync fails we say 53 without
  // removing anything: a duplicate is better than a loss.
  if (int rc = sync_dir(q.dir("todo"))) return rc;
  return queue_exit::kOk;
}

}  // namespace

int enqueue(const Layout& q, const EnqueueRequest& req) {
  int rc;
  try {
    std::string buf(kChunk, '\0');
    rc = run(q, req, buf.data());
  } catch (...) {
    // qmail-queue(8) 51: out of memory (the only exception we can meet).
    rc = queue_exit::kOutOfMemory;
  }
  // Every failure path removes what is still ours; after the commit there
  // is nothing left registered.
  if (rc != 0) drop_all();
  forget(g_pid);
  forget(g_mess);
  forget(g_intd);
  return rc;
}

void arm_timeout(unsigned seconds) {
  struct sigaction sa {};
  sa.sa_handler = on_alarm;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGALRM, &sa, nullptr);
  ::alarm(seconds);
}

void pull_trigger(const Layout& q) {
  int fd = ::open(q.trigger().c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return;
  char c = 0;
  (void)!::write(fd, &c, 1);
  ::close(fd);
}

std::string date822(std::time_t t) {
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  struct tm tm {};
  ::gmtime_r(&t, &tm);
  auto two = [](int v) {
    std::string s = std::to_string(v);
    return v < 10 ? "0" + s : s;
  };
  std::string out = std::to_string(tm.tm_mday);
  out += ' ';
  out += kMonths[tm.tm_mon];
  out += ' ';
  out += std::to_string(tm.tm_year + 1900);
  out += ' ';
  out += two(tm.tm_hour) + ":" + two(tm.tm_min) + ":" + two(tm.tm_sec);
  out += " -0000";
  return out;
}

std::string received_line(pid_t pid, uid_t uid, const home::Ids* ids, std::time_t now) {
  std::string how;
  if (ids && !ids->single_user && uid == ids->alias)
    how = "invoked by alias";
  else if (ids && !ids->single_user && uid == ids->qmaild)
    how = "invoked from network";
  else if (ids && !ids->single_user && uid == ids->qmails)
    how = "invoked for bounce";
  else
    how = "invoked by uid " + std::to_string(uid);
  return "Received: (qmail " + std::to_string(pid) + " " + how + "); " + date822(now) + "\n";
}

}  // namespace qmail::queue
