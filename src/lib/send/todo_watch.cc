#include "send/todo_watch.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/strings.h"

namespace qmail::send {

bool TodoWatch::start(const std::string& dir) {
  Fd fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!fd.valid()) return false;
  if (::inotify_add_watch(fd.get(), dir.c_str(), IN_CREATE | IN_MOVED_TO | IN_ONLYDIR) < 0)
    return false;
  fd_ = std::move(fd);
  return true;
}

bool TodoWatch::take(std::vector<std::uint64_t>* ids) {
  if (!fd_.valid()) return false;
  bool complete = true;
  alignas(inotify_event) char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd_.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return complete;
    if (n <= 0) return false;
    for (ssize_t off = 0; off + static_cast<ssize_t>(sizeof(inotify_event)) <= n;) {
      inotify_event e;
      std::memcpy(&e, buf + off, sizeof e);
      const char* name = buf + off + sizeof(inotify_event);
      off += static_cast<ssize_t>(sizeof(inotify_event) + e.len);
      if (e.mask & IN_Q_OVERFLOW) complete = false;
      if (e.len == 0 || (e.mask & IN_ISDIR)) continue;
      if (auto id = str::parse_uint(std::string_view(name, ::strnlen(name, e.len)))) {
        ids->push_back(*id);
      }
    }
  }
}

}  // namespace qmail::send
