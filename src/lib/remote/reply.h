// SMTP replies (RFC 5321 4.2): "250-first line", ..., "250 last line".
// ReplyParser takes one line at a time from the peer and says when the
// reply is complete; every bound is a named constant.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace qmail::remote {

// RFC 5321 4.5.3.1.5 allows 512 octets per reply line; real servers send
// longer ones (EHLO lists, banners), so we accept 8 times that.
inline constexpr std::size_t kMaxReplyLine = 4096;
// No reply of a sane server has this many lines (an EHLO list has ~20).
inline constexpr std::size_t kMaxReplyLines = 100;

struct Reply {
  int code = 0;                    // 200..599
  std::vector<std::string> lines;  // each whole line, code included, no CRLF
  bool is_ok() const { return code >= 200 && code < 300; }
  bool is_temp() const { return code >= 400 && code < 500; }
  bool is_perm() const { return code >= 500; }
  // The lines joined with '\n', NUL and other control bytes shown as '?',
  // for reports (a NUL would end a report record early).
  std::string text() const;
};

class ReplyParser {
 public:
  // Feeds one line (without its CRLF or LF). Returns true when the reply
  // is complete (take() it). Errors (perm): malformed line, a code that
  // changes between lines, a line over kMaxReplyLine, too many lines.
  Result<bool> feed(std::string_view line);
  // The finished reply; resets the parser.
  Reply take();

 private:
  Reply cur_;
};

// Parses a whole buffer of lines separated by LF or CRLF into replies, for
// tests and the fuzzer. Stops at the first error.
Result<std::vector<Reply>> parse_replies(std::string_view text);

// EHLO keywords (RFC 5321 4.1.1.1): each line after the first of a 250
// reply is "KEYWORD params". Upper-cased keyword and its parameter text.
struct Extensions {
  bool pipelining = false, eightbitmime = false, smtputf8 = false, starttls = false;
  bool size = false;
  unsigned long long size_limit = 0;  // 0: none announced
};
Extensions parse_ehlo(const Reply& r);

}  // namespace qmail::remote
