#include "local/mbox.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include "io/fd.h"
#include "io/io.h"
#include "local/message.h"

namespace qmail::mbox {

namespace {

void on_alarm(int) {}

// Runs `f` (a blocking lock call) with SIGALRM set to interrupt it after
// `seconds`; restores the previous handler and alarm.
template <typename F>
int with_timeout(unsigned seconds, F f) {
  struct sigaction sa = {}, old = {};
  sa.sa_handler = on_alarm;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: the lock call must see EINTR
  ::sigaction(SIGALRM, &sa, &old);
  unsigned prev = ::alarm(seconds);
  int r = f();
  int saved = errno;
  ::alarm(0);
  ::sigaction(SIGALRM, &old, nullptr);
  if (prev != 0) ::alarm(prev);
  errno = saved;
  return r;
}

Status write_error(int err) {
  if (err == ENOSPC || err == EDQUOT) {
    return local::temp_sys("Recipient's mailbox is full", err, "4.2.2");
  }
  return local::temp_sys("Unable to write mailbox", err, "4.2.1");
}

}  // namespace

Status lock(int fd, unsigned seconds) {
  struct flock fl = {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 0;
  if (with_timeout(seconds, [&] { return ::fcntl(fd, F_SETLKW, &fl); }) != 0) {
    if (errno == EINTR) return Status::temp("Timeout while locking mailbox. (#4.2.1)");
    return local::temp_sys("Unable to lock mailbox", errno, "4.2.1");
  }
  if (with_timeout(seconds, [&] { return ::flock(fd, LOCK_EX); }) != 0) {
    if (errno == EINTR) return Status::temp("Timeout while locking mailbox. (#4.2.1)");
    return local::temp_sys("Unable to lock mailbox", errno, "4.2.1");
  }
  return Status::ok();
}

Status deliver(const std::string& path, std::string_view ufline, std::string_view prefix,
               int msgfd) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOCTTY | O_CLOEXEC, 0600));
  if (!fd.valid()) return local::temp_sys("Unable to open mailbox " + path, errno, "4.2.1");
  QMAIL_RETURN_IF_ERROR(lock(fd.get(), kLockTimeoutSeconds));
  off_t old_size = ::lseek(fd.get(), 0, SEEK_END);
  if (old_size < 0) return local::temp_sys("Unable to seek mailbox", errno, "4.2.1");

  io::Writer w(fd.get());
  local::FromQuoter quoter;
  std::string buf;
  Status s = w.put(ufline);
  if (s.is_ok()) s = w.put(prefix);
  if (s.is_ok()) {
    s = local::for_each_chunk(msgfd, [&](std::string_view chunk) {
      buf.clear();
      quoter.put(chunk, buf);
      return w.put(buf);
    });
  }
  if (s.is_ok()) {
    buf.clear();
    quoter.finish(buf);
    // mbox(5): a blank line ends the message; two newlines after a
    // partial last line.
    buf += quoter.partial_last_line() ? "\n\n" : "\n";
    s = w.put(buf);
  }
  if (s.is_ok()) s = w.flush();
  if (s.is_ok() && ::fsync(fd.get()) != 0) s = Status::temp_errno("fsync", errno);
  if (!s.is_ok()) {
    // dot-qmail(5): on trouble writing, cut the file back to its old length.
    int err = s.err();
    if (::ftruncate(fd.get(), old_size) != 0) {
      // Nothing more can be done; the error below is what counts.
    }
    if (err != 0) return write_error(err);
    return s;
  }
  if (::close(fd.release()) != 0) return write_error(errno);
  return Status::ok();
}

}  // namespace qmail::mbox
