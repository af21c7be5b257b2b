// Reading a message's header fields, for the delivery helpers that look at
// them (qreceipt, qbiff). Bounded: only the first kMaxHeaderBytes of the
// header are considered.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace qmail::local {

// How much of a header the helpers read (RFC 5322 sets no limit; a
// header beyond this is unusual and its tail is ignored, never an error).
inline constexpr std::size_t kMaxHeaderBytes = 256 * 1024;
inline constexpr std::size_t kMaxHeaderFields = 2000;

struct HeaderField {
  std::string name;   // as written, without the colon
  std::string value;  // unfolded (continuation lines joined by one space), trimmed
};

// Parses the header at the start of `text` (up to the first empty line, or
// all of `text`); lines that are not "name: value" or continuations are
// skipped. At most kMaxHeaderFields fields.
std::vector<HeaderField> parse_header(std::string_view text);

// Reads at most kMaxHeaderBytes of the message on `fd` (pread from offset
// 0) and parses its header. Errors: temp on read failure.
Result<std::vector<HeaderField>> read_header(int fd);

// The addresses in an address-list field value (RFC 5322 3.4, leniently):
// split at commas outside quotes, angle brackets and comments; from each
// part the text inside <...> if present, else the part with comments and
// whitespace removed. Empty parts are dropped; group names ("list:" ...
// ";") are stripped.
std::vector<std::string> parse_addresses(std::string_view value);

}  // namespace qmail::local
