// The DATA phase as a byte-stream state machine (RFC 5321 4.1.1.4, 4.5.2):
// CRLF becomes LF as qmail stores mail, a leading dot is removed, and the
// message ends only on CRLF "." CRLF. A bare LF anywhere is an error
// (qmail-smtpd(8): https://cr.yp.to/docs/smtplf.html), so none of the
// "\n.\n" or "\r.\r" smuggling variants can end the data early. Counts
// stored bytes (databytes) and Received/Delivered-To header fields (hops).
// Fixed memory whatever the input.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace qmail::smtp {

class DataReader {
 public:
  enum class State { kMore, kDone, kBareLf };

  // `databytes`: the most message bytes (as stored) to accept.
  explicit DataReader(std::uint64_t databytes) : databytes_(databytes) {}

  // Consumes bytes of `in` up to and including the end of data (or the
  // bare LF) and appends the message bytes to `out` (at most in.size()
  // bytes), except once the size limit was exceeded. Returns how many
  // bytes of `in` were consumed; the rest belongs to the next command.
  std::size_t feed(std::string_view in, std::string& out);

  State state() const { return state_; }
  bool too_big() const { return too_big_; }
  unsigned hops() const { return hops_; }
  std::uint64_t bytes() const { return bytes_; }
  // Did the message contain an 8-bit byte?
  bool eight_bit() const { return eight_bit_; }

 private:
  enum class Pos { kLineStart, kMid, kCr, kDot, kDotCr };
  void emit(char c, std::string& out);

  std::uint64_t databytes_;
  State state_ = State::kMore;
  Pos pos_ = Pos::kLineStart;
  bool too_big_ = false;
  bool eight_bit_ = false;
  std::uint64_t bytes_ = 0;
  // Header tracking on the stored stream.
  bool in_header_ = true;
  bool stored_line_start_ = true;
  char prefix_[13] = {};
  std::size_t prefix_len_ = 0;
  unsigned hops_ = 0;
};

}  // namespace qmail::smtp
