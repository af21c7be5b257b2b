#include "smtp/channel.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/kept.h"
#include "smtp/limits.h"

namespace qmail::smtp {

namespace {
Kept<std::unique_ptr<char[]>> g_input;

void set_nonblocking(int fd) {
  int fl = ::fcntl(fd, F_GETFL);
  if (fl >= 0) ::fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}
}  // namespace

Channel::Channel(int rfd, int wfd, unsigned timeout_seconds, std::time_t deadline)
    : rfd_(rfd), wfd_(wfd), timeout_(timeout_seconds), deadline_(deadline) {
  set_nonblocking(rfd_);
  set_nonblocking(wfd_);
  in_ = g_input.take();
  if (!in_) in_ = std::make_unique_for_overwrite<char[]>(kInputBuffer);
}

Channel::~Channel() { g_input.give(std::move(in_)); }

int Channel::wait_seconds() {
  std::time_t now = std::time(nullptr);
  long long left = deadline_ > now ? deadline_ - now : 0;
  long long t = timeout_;
  if (left < t) t = left;
  return static_cast<int>(t);
}

Status Channel::flush() {
  if (out_.empty()) return Status::ok();
  std::string_view data = out_;
  Status s;
  if (conn_) {
    s = conn_->write(data, wait_seconds());
  } else {
    while (!data.empty()) {
      ssize_t w = ::write(wfd_, data.data(), data.size());
      if (w > 0) {
        data.remove_prefix(static_cast<std::size_t>(w));
      } else if (w < 0 && errno == EINTR) {
        continue;
      } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        s = tls::wait_fd(wfd_, true, wait_seconds());
        if (!s.is_ok()) break;
      } else {
        s = Status::temp_errno("write to client");
        break;
      }
    }
  }
  out_.clear();
  if (!s.is_ok() && s.err() == tls::kTimedOut) timed_out_ = true;
  return s;
}

Status Channel::fill() {
  if (pos_ > 0) {
    std::memmove(in_.get(), in_.get() + pos_, end_ - pos_);
    end_ -= pos_;
    pos_ = 0;
  }
  // Replies to everything read so far go out before we wait (RFC 2920 3.2).
  QMAIL_RETURN_IF_ERROR(flush());
  std::size_t room = kInputBuffer - end_;
  if (room == 0) return Status::ok();
  while (true) {
    if (wait_seconds() <= 0) {
      timed_out_ = true;
      return Status::temp_errno("session deadline", tls::kTimedOut);
    }
    if (conn_) {
      auto r = conn_->read(in_.get() + end_, room, wait_seconds());
      if (!r.is_ok()) {
        if (r.status().err() == tls::kTimedOut) timed_out_ = true;
        return r.status();
      }
      if (*r == 0) eof_ = true;
      end_ += *r;
      return Status::ok();
    }
    ssize_t n = ::read(rfd_, in_.get() + end_, room);
    if (n > 0) {
      end_ += static_cast<std::size_t>(n);
      return Status::ok();
    }
    if (n == 0) {
      eof_ = true;
      return Status::ok();
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return Status::temp_errno("read from client");
    Status s = tls::wait_fd(rfd_, false, wait_seconds());
    if (!s.is_ok()) {
      if (s.err() == tls::kTimedOut) timed_out_ = true;
      return s;
    }
  }
}

Result<std::string_view> Channel::read_line(bool* too_long) {
  *too_long = false;
  while (true) {
    const char* base = in_.get();
    const void* nl = std::memchr(base + pos_, '\n', end_ - pos_);
    if (nl) {
      std::size_t at = static_cast<const char*>(nl) - base;
      std::string_view line(base + pos_, at - pos_);
      pos_ = at + 1;
      if (discarding_) {
        discarding_ = false;
        *too_long = true;
        return std::string_view();
      }
      if (line.size() + 1 > kMaxCommandLine) {
        *too_long = true;
        return std::string_view();
      }
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      return line;
    }
    if (end_ - pos_ >= kMaxCommandLine) {
      discarding_ = true;
      pos_ = end_;
    }
    if (eof_) return Status::temp("client closed connection");
    QMAIL_RETURN_IF_ERROR(fill());
  }
}

Result<std::string_view> Channel::peek_some() {
  if (end_ == pos_ && !eof_) QMAIL_RETURN_IF_ERROR(fill());
  return std::string_view(in_.get() + pos_, end_ - pos_);
}

Status Channel::start_tls(const tls::ServerContext& ctx) {
  QMAIL_RETURN_IF_ERROR(flush());
  // RFC 3207 4 / CVE-2011-0411: commands pipelined after STARTTLS came in
  // the clear; they are thrown away, never run inside the TLS session.
  pos_ = end_ = 0;
  discarding_ = false;
  auto c = tls::Connection::accept(ctx, rfd_, wfd_, wait_seconds());
  if (!c.is_ok()) {
    if (c.status().err() == tls::kTimedOut) timed_out_ = true;
    return c.status();
  }
  conn_.emplace(std::move(c).value());
  return Status::ok();
}

void Channel::close() {
  (void)flush();
  if (conn_) conn_->shutdown();
}

}  // namespace qmail::smtp
