// SMTP transparency for the DATA phase (RFC 5321 4.5.2, qmail-remote(8)
// TRANSPARENCY): every line sent ends in CRLF, and a line starting with
// "." gets another ".". A stored message's LF, CRLF and bare CR each end
// one line, so no byte sequence in a message can end DATA early or be read
// as a line end by a lax server (SMTP smuggling).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace qmail::remote {

class DataEncoder {
 public:
  // Appends the encoding of `in` to `out`. Chunks may split anywhere.
  void feed(std::string_view in, std::string& out);
  // Ends the message: a CRLF if the last line had none (SMTP cannot send a
  // message that does not end with a newline), then ".\r\n".
  void finish(std::string& out);

 private:
  bool line_start_ = true;
  bool pending_cr_ = false;
};

// One pass over the message before sending: its size as sent (for SIZE,
// RFC 1870) and whether it has 8-bit bytes (for BODY=8BITMIME, RFC 6152).
class MessageScan {
 public:
  void feed(std::string_view in);
  std::uint64_t encoded_size() const { return encoded_; }
  bool eight_bit() const { return eight_bit_; }

 private:
  DataEncoder enc_;
  std::string buf_;
  std::uint64_t encoded_ = 0;
  bool eight_bit_ = false;
};

}  // namespace qmail::remote
