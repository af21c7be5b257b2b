// Message headers (RFC 5322 2.2, qmail-header(5)): field names compared
// without regard to case, unfolding, and splitting a header off the front
// of a message the way qmail-inject does, with a bound on its size.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "io/io.h"

namespace qmail::header {

// The most header bytes kept in memory while a message is prepared
// (qmail-inject(8)): the header has to be held whole (new fields go in
// front, Return-Path decides the envelope sender), the body is streamed.
// Lines of any length are fine within this. 16 MiB is far above any real
// header (RFC 5322 2.1.1 asks for lines under 1000 octets).
inline constexpr std::size_t kMaxHeader = 16 * 1024 * 1024;

// qmail-header(5): a field starts with its name: at least one byte, each
// printable ASCII other than ':' (33..126), then optional spaces or tabs,
// then ':'. Returns the name without those blanks, or an empty view when
// `line` does not start a field. The view points into `line`.
std::string_view field_name(std::string_view line);
// Everything after the first colon: the contents, folding and final
// newline included. Empty when `field` has no colon.
std::string_view field_value(std::string_view field);
// Does `field` start with the name `name` (ASCII case-insensitive)?
bool is_named(std::string_view field, std::string_view name);
// RFC 5322 2.2.3: removes every CRLF or LF that is followed by a space or
// tab, and a final CRLF or LF.
std::string unfold(std::string_view text);

// How a header ended.
enum class End {
  kNone,      // not yet
  kBlank,     // a blank line ("\n" or "\r\n"), which is consumed
  kBodyLine,  // a line that is not a field: it is the body's first line
  kEof,       // the input ended inside the header (no body)
};

// Splits the header off a message, line by line, as qmail-inject does:
// a line starting with space or tab continues the field before it; a line
// "From ..." (an mbox separator) becomes the field "MBOX-Line: From ...";
// any other line that does not start a field ends the header and begins
// the body. Every stored line ends with '\n' (one is added to a last line
// that lacks it, as qmail does).
class Parser {
 public:
  explicit Parser(std::size_t limit = kMaxHeader, bool mbox_line = true)
      : limit_(limit), mbox_line_(mbox_line) {}

  // Feeds the next line, with its '\n' (only the last line of the input
  // may lack it; it must not be empty). Returns true while the header goes
  // on, false when this line ended it (see end()). Errors: perm when the
  // header passes `limit` bytes.
  Result<bool> feed(std::string_view line);
  // The input ended (after the last feed that returned true).
  void finish();

  End end() const { return end_; }
  // The complete fields, each with its folding and its final '\n'.
  std::vector<std::string>& fields() { return fields_; }
  // After End::kBodyLine: the line that began the body.
  const std::string& body_line() const { return body_line_; }

 private:
  std::size_t limit_;
  bool mbox_line_;
  std::size_t total_ = 0;
  bool open_ = false;
  std::string current_;
  std::vector<std::string> fields_;
  End end_ = End::kNone;
  std::string body_line_;
};

struct Header {
  std::vector<std::string> fields;  // as Parser::fields()
  End end = End::kNone;
  std::string body_line;  // for End::kBodyLine
};

// Reads a header from `in` with a Parser; the body stays unread in `in`.
// Errors: perm past `limit`; temp on read errors.
Result<Header> read(io::Reader& in, std::size_t limit = kMaxHeader);
// The same from a string; `rest` gets the offset where the unread body
// starts.
Result<Header> parse(std::string_view text, std::size_t& rest, std::size_t limit = kMaxHeader);

}  // namespace qmail::header
