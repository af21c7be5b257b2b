#include "local/maildir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "base/scope_guard.h"
#include "fs/fs.h"
#include "io/fd.h"
#include "io/io.h"
#include "local/message.h"

namespace qmail::maildir {

namespace {

// Tries before giving up on finding an unused name (each changes Q).
constexpr int kMaxNameTries = 100;

unsigned next_q() {
  static std::atomic<unsigned> q{0};
  return q++;
}

std::string host_name() {
  std::array<char, 256> buf{};
  if (::gethostname(buf.data(), buf.size() - 1) != 0) return "localhost";
  return safe_host(buf.data());
}

Status write_error(std::string_view what, int err) {
  if (err == ENOSPC || err == EDQUOT) {
    return local::temp_sys("Recipient's mailbox is full: " + std::string(what), err, "4.2.2");
  }
  return local::temp_sys("Unable to write to maildir: " + std::string(what), err, "4.3.0");
}

}  // namespace

Status make(const std::string& dir) {
  for (const std::string& d : {dir, dir + "/tmp", dir + "/new", dir + "/cur"}) {
    if (::mkdir(d.c_str(), 0700) != 0) return Status::temp_errno("unable to mkdir " + d);
  }
  return Status::ok();
}

std::string safe_host(std::string_view host) {
  if (host.empty()) return "localhost";
  std::string out;
  for (char c : host) {
    if (c == '/') {
      out += "\\057";
    } else if (c == ':') {
      out += "\\072";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string unique_name(std::time_t sec, long usec, pid_t pid, unsigned n,
                        std::string_view safe_host_name) {
  return std::to_string(static_cast<long long>(sec)) + ".M" + std::to_string(usec) + "P" +
         std::to_string(static_cast<long>(pid)) + "Q" + std::to_string(n) + "." +
         std::string(safe_host_name);
}

namespace {

// Writes `prefix` and the message to `fd` and fsyncs it.
Status write_message(int fd, std::string_view prefix, int msgfd) {
  io::Writer w(fd);
  Status s = w.put(prefix);
  if (s.is_ok()) s = local::for_each_chunk(msgfd, [&](std::string_view c) { return w.put(c); });
  if (s.is_ok()) s = w.flush();
  if (!s.is_ok()) {
    if (s.err() != 0) return write_error("write", s.err());
    return s;  // reading the message failed
  }
  // maildir(5) "NFS-writing": check every write, fsync, and close.
  if (::fsync(fd) != 0) return write_error("fsync", errno);
  return Status::ok();
}

// The link is the delivery; it counts only once new/ is on disk.
Status sync_new(int newfd) {
  if (!fs::dirsync_disabled() && ::fsync(newfd) != 0 && errno != EINVAL && errno != EROFS)
    return write_error("fsync new", errno);
  return Status::ok();
}

std::string unique_now(const std::string& host) {
  struct timeval tv;
  ::gettimeofday(&tv, nullptr);
  return unique_name(tv.tv_sec, tv.tv_usec, ::getpid(), next_q(), host);
}

}  // namespace

Result<std::string> deliver(const std::string& dir, std::string_view prefix, int msgfd,
                            bool unnamed) {
  Fd newfd(::open((dir + "new").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!newfd.valid()) {
    return local::temp_sys("Unable to open maildir " + dir + "new", errno, "4.2.1");
  }
  // Once per process (a reused qmail-local delivers many messages).
  static const std::string host = host_name();

  // An unnamed file in tmp/ (O_TMPFILE), linked into new/ when complete:
  // the same all-or-nothing appearance in new/ as tmp/<name> then link,
  // without making and removing a name in tmp/ (two directory updates per
  // message). A crash before the link leaves no file at all. Where the
  // filesystem or /proc cannot do it, the classic way below.
  if (unnamed) {
    Fd fd(::open((dir + "tmp").c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600));
    if (fd.valid()) {
      QMAIL_RETURN_IF_ERROR(write_message(fd.get(), prefix, msgfd));
      const std::string self = "/proc/self/fd/" + std::to_string(fd.get());
      for (int attempt = 0; attempt < kMaxNameTries; ++attempt) {
        const std::string name = unique_now(host);
        if (::linkat(AT_FDCWD, self.c_str(), newfd.get(), name.c_str(), AT_SYMLINK_FOLLOW) != 0) {
          if (errno == EEXIST) continue;
          if (errno == ENOENT || errno == EPERM || errno == EOPNOTSUPP) break;  // no /proc
          return write_error("link", errno);
        }
        if (::close(fd.release()) != 0) return write_error("close", errno);
        QMAIL_RETURN_IF_ERROR(sync_new(newfd.get()));
        return "new/" + name;
      }
    }
  }

  Fd dirfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dirfd.valid()) {
    return local::temp_sys("Unable to open maildir " + dir, errno, "4.2.1");
  }
  for (int attempt = 0; attempt < kMaxNameTries; ++attempt) {
    const std::string name = unique_now(host);
    const std::string tmpname = "tmp/" + name;
    Fd fd(::openat(dirfd.get(), tmpname.c_str(),
                   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid()) {
      if (errno == EEXIST) continue;
      if (errno == ENOSPC || errno == EDQUOT) return write_error("tmp", errno);
      return local::temp_sys("Unable to create file in maildir " + dir + "tmp", errno, "4.2.1");
    }
    // Until the link below, a crash leaves only a file in tmp/, which
    // readers delete after 36 hours: the message was never delivered.
    ScopeGuard drop_tmp([&] { ::unlinkat(dirfd.get(), tmpname.c_str(), 0); });
    QMAIL_RETURN_IF_ERROR(write_message(fd.get(), prefix, msgfd));
    if (::close(fd.release()) != 0) return write_error("close", errno);
    const std::string newname = "new/" + name;
    if (::linkat(dirfd.get(), tmpname.c_str(), dirfd.get(), newname.c_str(), 0) != 0) {
      if (errno == EEXIST) continue;
      return write_error("link", errno);
    }
    QMAIL_RETURN_IF_ERROR(sync_new(newfd.get()));
    drop_tmp.cancel();
    ::unlinkat(dirfd.get(), tmpname.c_str(), 0);
    return newname;
  }
  return Status::temp("Unable to find an unused name in maildir " + dir + "tmp (#4.3.0)");
}

}  // namespace qmail::maildir
