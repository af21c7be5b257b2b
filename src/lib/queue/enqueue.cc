#include "queue/enqueue.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <functional>
#include <memory>

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
// handler, which may only use async-signal-safe calls: set before the file
// exists, cleared when it is no longer ours to remove. The handler reads a
// path only while it is armed, and it is changed only while disarmed (the
// fences keep the compiler from moving the change across). Strings, not
// PATH_MAX arrays: three of those were three more pages of memory in each
// process that queues (a qmail-smtpd worker, a serving qmail-queue).
struct Scratch {
  volatile std::sig_atomic_t armed = 0;
  std::string path;
};
Scratch g_pid, g_mess, g_intd;

void remember(Scratch& s, const std::string& path) {
  s.armed = 0;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  s.path = path;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  s.armed = 1;
}

void drop(Scratch& s) {
  if (s.armed) ::unlink(s.path.c_str());
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

}  // namespace

struct Enqueuer::Files {
  FreePool& pool;
  Fd mess;
  std::uint64_t id = 0;
  off_t mess_old = 0;   // a pool file's old size: what the message must cut
  off_t mess_len = 0;   // bytes written
  bool pooled = false;  // renamed from the pool: mess/<s>/<id> is its one name
  explicit Files(const Layout& q) : pool(FreePool::shared(q)) {}
};

Enqueuer::Enqueuer(const Layout& q, uid_t uid, pid_t pid, bool timeout_armed)
    : q_(q), uid_(uid), pid_(pid), timeout_armed_(timeout_armed) {}

Enqueuer::~Enqueuer() {
  // Unfinished: every file still ours goes (intd before mess, see
  // drop_all); after the commit nothing is registered any more.
  drop_all();
}

int Enqueuer::begin(std::string_view received) {
  files_ = std::make_unique<Files>(q_);
  // Before anything: a missing or unreadable queue is 62.
  {
    auto d = fs::open_dir(q_.root());
    if (!d.is_ok()) return queue_exit::kQueueFiles;
  }

  // A recycled inode straight to its message name when there is one
  // (queue/recycle.h): its inode number is free, so it is an id no other
  // message has.
  Fd& mess = files_->mess;
  if (files_->pool.take_as_message(q_, &files_->id, &files_->mess_old, mess) ==
      FreePool::Take::kTaken) {
    files_->pooled = true;
    remember(g_mess, q_.mess(files_->id));
    return write(received);
  }

  // The pid-file trick: a fresh file's inode number is a message id no
  // other message in the queue has (mess is on the same filesystem as pid,
  // qmail-queue(8) FILESYSTEM RESTRICTIONS). Crash from here until the
  // unlink below: a stale pid/<pid>, which qmail-clean removes after 36
  // hours.
  std::string pid_path = q_.pid_file(static_cast<long>(pid_));
  ::unlink(pid_path.c_str());  // left by a dead process that had our pid
  remember(g_pid, pid_path);
  if (int rc = open_excl(pid_path, qq_exit::kPidDir, mess)) {
    forget(g_pid);
    return rc;
  }
  struct stat st;
  if (::fstat(mess.get(), &st) != 0) return qq_exit::kPidDir;
  files_->id = st.st_ino;
  files_->mess_old = st.st_size;

  // Crash from here until the commit: a mess file without todo/<id> (and
  // maybe an intd file with one link). Nobody has been told anything yet;
  // qmail-send removes such a mess file once it is 36 hours old (it has no
  // info/<id> either), and qmail-clean an old intd file with one link.
  std::string mess_path = q_.mess(files_->id);
  remember(g_mess, mess_path);
  if (int rc = link_to(pid_path, mess_path, qq_exit::kMessDir)) {
    forget(g_mess);
    return rc;
  }
  drop(g_pid);

  // The message: our Received line, then the caller's bytes verbatim
  // (8-bit clean).
  return write(received);
}

int Enqueuer::write(std::string_view bytes) {
  files_->mess_len += static_cast<off_t>(bytes.size());
  return write_all(files_->mess.get(), bytes);
}

int Enqueuer::commit(const std::function<int(int intd_fd)>& copy_envelope) {
  const std::uint64_t id = files_->id;
  Fd& mess = files_->mess;
  // The envelope, in intd/<id>; qmail-send never looks at intd.
  std::string intd_path = q_.intd(id);
  remember(g_intd, intd_path);
  Fd intd;
  FreePool::Take took = files_->pool.take(intd_path, intd);
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
  head += std::to_string(uid_);
  head += '\0';
  head += 'p';
  head += std::to_string(pid_);
  head += '\0';
  struct stat st;
  if (::fstat(intd.get(), &st) != 0) return queue_exit::kWriteError;
  if (int rc = write_all(intd.get(), head)) return rc;
  if (int rc = copy_envelope(intd.get())) return rc;
  // A pool file's old bytes past ours go (recycle.h).
  if (st.st_size > 0) {
    off_t len = ::lseek(intd.get(), 0, SEEK_CUR);
    if (len < 0 || (len < st.st_size && ::ftruncate(intd.get(), len) != 0))
      return queue_exit::kWriteError;
  }
  if (files_->mess_old > files_->mess_len && ::ftruncate(mess.get(), files_->mess_len) != 0)
    return queue_exit::kWriteError;

  // Before todo/<id> may name them: the message bytes, the mess/<s>/<id>
  // name and the envelope bytes (todo/<id> will be a second name of the
  // intd inode) must be on disk. Where the message file's own fsync
  // carries its new name (ext4, a pool file renamed to mess/<s>/<id>:
  // fs::fsync_covers_new_name), mess/<s> needs no fsync of its own: one
  // flush of the disk's cache fewer. Not for a file made through the pid
  // file: its fd was opened by the pid/ name, a second name that the
  // kernel could take for the parent to write.
  bool by_file = files_->pooled && fs::fsync_covers_new_name(mess.get());
  Status synced = by_file ? fs::fsync_all({&intd}, {}, {&mess})
                          : fs::fsync_all({&mess, &intd}, {q_.split_dir("mess", id)});
  if (!synced.is_ok()) return queue_exit::kWriteError;
  if (::close(mess.release()) != 0) return queue_exit::kWriteError;
  if (::close(intd.release()) != 0) return queue_exit::kWriteError;

  // The commit. From the link on, qmail-send may take the message at any
  // moment, so nothing may be removed any more, not even by the timeout.
  if (timeout_armed_) ::alarm(0);
  std::string todo_path = q_.todo(id);
  if (int rc = link_to(intd_path, todo_path, qq_exit::kTodoDir)) return rc;
  forget(g_intd);
  forget(g_mess);
  // Crash before this fsync completes: todo/<id> may vanish, and the
  // message is then unfinished as above -- but we have not said 0 yet, so
  // the sender still holds it. If the fsync fails we say 53 without
  // removing anything: a duplicate is better than a loss.
  if (int rc = sync_dir(q_.dir("todo"))) return rc;
  return queue_exit::kOk;
}

int feed_envelope(EnvelopeParser& parser, std::string_view chunk, int out) {
  std::size_t used = parser.feed(chunk);
  if (parser.done()) --used;  // the terminating NUL is not stored
  if (parser.error() == EnvelopeParser::Error::kNone) {
    if (int rc = write_all(out, chunk.substr(0, used))) return rc;
  }
  switch (parser.error()) {
    case EnvelopeParser::Error::kTooLong:
      return queue_exit::kAddressTooLong;
    case EnvelopeParser::Error::kFormat:
      return queue_exit::kEnvelopeFormat;
    case EnvelopeParser::Error::kNone:
      break;
  }
  return parser.done() ? 0 : -1;
}

int Enqueuer::commit(std::string_view envelope) {
  return commit([&](int intd) {
    EnvelopeParser parser;
    int rc = feed_envelope(parser, envelope, intd);
    return rc < 0 ? queue_exit::kReadError : rc;
  });
}

int enqueue(const Layout& q, const EnqueueRequest& req) {
  int rc;
  try {
    // Not zero-filled: a message of a few KiB touches a page or two of
    // it, not all sixteen.
    auto buffer = std::make_unique_for_overwrite<char[]>(kChunk);
    char* buf = buffer.get();
    Enqueuer e(q, req.uid, req.pid, true);
    rc = e.begin(req.received);
    // The message from fd 0, to its end.
    while (rc == 0) {
      ssize_t n = read_some(req.message_fd, buf, kChunk);
      if (n < 0) rc = queue_exit::kReadError;
      if (n <= 0) break;
      rc = e.write(std::string_view(buf, static_cast<std::size_t>(n)));
    }
    // Then the envelope from fd 1, checked as it arrives.
    if (rc == 0) {
      rc = e.commit([&](int intd) {
        EnvelopeParser parser;
        for (;;) {
          ssize_t n = read_some(req.envelope_fd, buf, kChunk);
          // An error, or the input ended before the envelope did.
          if (n <= 0) return static_cast<int>(queue_exit::kReadError);
          int r = feed_envelope(parser, std::string_view(buf, static_cast<std::size_t>(n)), intd);
          if (r >= 0) return r;
        }
      });
    }
  } catch (...) {
    // qmail-queue(8) 51: out of memory (the only exception we can meet).
    // ~Enqueuer has removed what was still ours.
    rc = queue_exit::kOutOfMemory;
  }
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
