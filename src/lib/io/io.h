// Blocking I/O on descriptors with bounds: every read from a peer has a
// limit, and "too long" is an error value, never silent growth.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "base/status.h"

namespace qmail::io {

// Writes all of `data` to `fd`, retrying on EINTR and short writes.
// Errors: temp (with errno) on any write failure.
Status write_all(int fd, std::string_view data);

// Reads until EOF into a string of at most `limit` bytes.
// Errors: perm "too long" past `limit`; temp on read failure.
Result<std::string> read_all(int fd, std::size_t limit);

// A buffered reader over a descriptor it does not own.
class Reader {
 public:
  explicit Reader(int fd, std::size_t bufsize = 65536);

  // Reads up to and including the next `delim` (which is stripped), at most
  // `limit` bytes before it. The view is valid until the next call.
  // Returns nullopt-like empty Result with eof() true when the input ended
  // cleanly before any byte. Errors: perm "line too long"; perm
  // "truncated" when EOF comes after some bytes but before `delim`;
  // temp on read failure.
  Result<std::string_view> read_until(char delim, std::size_t limit);
  // Like read_until('\n'), but a final line without '\n' is returned too.
  Result<std::string_view> read_line(std::size_t limit);

  // Reads up to `max` bytes (fewer at EOF or when buffered data is less).
  // An empty view means EOF. Errors: temp on read failure.
  Result<std::string_view> read_some(std::size_t max);

  // Reads exactly one byte; eof() set and a perm error if none is left.
  Result<char> get();

  bool eof() const { return eof_; }
  int fd() const { return fd_; }
  // Bytes buffered but not yet consumed.
  std::size_t buffered() const { return end_ - pos_; }

 private:
  Status fill();  // reads more into the buffer; sets eof_ on EOF
  int fd_;
  std::string buf_;
  std::size_t pos_ = 0, end_ = 0;
  std::string line_;
  bool eof_ = false;
};

// A buffered writer over a descriptor it does not own. Call flush() and
// check it before trusting that the data was written.
class Writer {
 public:
  explicit Writer(int fd, std::size_t bufsize = 65536) : fd_(fd), limit_(bufsize) {}
  Status put(std::string_view data);
  Status put(char c) { return put(std::string_view(&c, 1)); }
  Status flush();
  int fd() const { return fd_; }

 private:
  int fd_;
  std::size_t limit_;
  std::string buf_;
};

}  // namespace qmail::io
