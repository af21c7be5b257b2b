#include "io/io.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace qmail::io {

Status write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::temp_errno("write");
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return Status::ok();
}

Result<std::string> read_all(int fd, std::size_t limit) {
  // Straight into the string, growing it: a 64 KiB buffer on the stack
  // would leave the stack's pages that far down in memory for the life of
  // the process (a worker's, a daemon's), for files that are mostly a few
  // bytes long.
  std::string out;
  std::size_t room = 512;
  for (;;) {
    std::size_t have = out.size();
    out.resize(have + room);
    ssize_t n = ::read(fd, out.data() + have, room);
    if (n < 0) {
      out.resize(have);
      if (errno == EINTR) continue;
      return Status::temp_errno("read");
    }
    out.resize(have + static_cast<std::size_t>(n));
    if (n == 0) return out;
    if (out.size() > limit) return Status::perm("too long");
    if (static_cast<std::size_t>(n) == room) room = std::min<std::size_t>(room * 2, 1 << 20);
  }
}

Reader::Reader(int fd, std::size_t bufsize) : fd_(fd), buf_(bufsize, '\0') {}

Status Reader::fill() {
  if (pos_ == end_) pos_ = end_ = 0;
  if (end_ == buf_.size()) {
    // Compact to make room.
    std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
    end_ -= pos_;
    pos_ = 0;
  }
  for (;;) {
    ssize_t n = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::temp_errno("read");
    }
    if (n == 0) eof_ = true;
    end_ += static_cast<std::size_t>(n);
    return Status::ok();
  }
}

Result<std::string_view> Reader::read_until(char delim, std::size_t limit) {
  line_.clear();
  for (;;) {
    const char* start = buf_.data() + pos_;
    const void* hit = std::memchr(start, delim, end_ - pos_);
    std::size_t take =
        hit ? static_cast<std::size_t>(static_cast<const char*>(hit) - start) : end_ - pos_;
    if (line_.size() + take > limit) return Status::perm("line too long");
    line_.append(start, take);
    if (hit) {
      pos_ += take + 1;
      return std::string_view(line_);
    }
    pos_ = end_;
    if (eof_) {
      if (line_.empty()) return Status::perm("end of input");
      return Status::perm("truncated");
    }
    QMAIL_RETURN_IF_ERROR(fill());
    if (eof_ && pos_ == end_) {
      if (line_.empty()) return Status::perm("end of input");
      return Status::perm("truncated");
    }
  }
}

Result<std::string_view> Reader::read_line(std::size_t limit) {
  auto r = read_until('\n', limit);
  if (!r.is_ok() && r.status().message() == "truncated") return std::string_view(line_);
  return r;
}

Result<std::string_view> Reader::read_some(std::size_t max) {
  if (pos_ == end_ && !eof_) QMAIL_RETURN_IF_ERROR(fill());
  std::size_t take = std::min(max, end_ - pos_);
  std::string_view v(buf_.data() + pos_, take);
  pos_ += take;
  return v;
}

Result<char> Reader::get() {
  if (pos_ == end_ && !eof_) QMAIL_RETURN_IF_ERROR(fill());
  if (pos_ == end_) return Status::perm("end of input");
  return buf_[pos_++];
}

Status Writer::put(std::string_view data) {
  if (buf_.size() + data.size() > limit_) {
    QMAIL_RETURN_IF_ERROR(flush());
    if (data.size() >= limit_) return write_all(fd_, data);
  }
  buf_.append(data);
  return Status::ok();
}

Status Writer::flush() {
  Status s = write_all(fd_, buf_);
  buf_.clear();
  return s;
}

}  // namespace qmail::io
