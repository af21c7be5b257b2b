// Fuzzes header splitting: never crashes, every field has a valid name
// and ends in '\n', and the fields give back the input they consumed (up to
// a final '\n' qmail adds and the MBOX-Line prefix).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/check.h"
#include "header/header.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  std::size_t rest = 0;
  auto h = qmail::header::parse(s, rest, 4096);
  if (!h.is_ok()) return 0;
  QMAIL_CHECK(rest <= s.size());
  // Walk the input: each field is the next input bytes (an mbox line with
  // "MBOX-Line: " in front); the last one may have gained a '\n'.
  std::string_view in = s.substr(0, rest);
  auto eat = [&](std::string_view piece) {
    if (in.starts_with(piece)) {
      in.remove_prefix(piece.size());
      return true;
    }
    if (piece.ends_with("\n") && in == piece.substr(0, piece.size() - 1)) {
      in = {};
      return true;
    }
    return false;
  };
  for (const std::string& f : h->fields) {
    QMAIL_CHECK(!f.empty() && f.back() == '\n');
    QMAIL_CHECK(!qmail::header::field_name(f).empty());
    std::string_view v = f;
    bool ok = eat(v);
    if (!ok && v.starts_with("MBOX-Line: From ")) ok = eat(v.substr(11));
    QMAIL_CHECK(ok);
    (void)qmail::header::unfold(qmail::header::field_value(f));
  }
  if (h->end == qmail::header::End::kBodyLine) QMAIL_CHECK(eat(h->body_line));
  if (h->end == qmail::header::End::kBlank) QMAIL_CHECK(in == "\n" || in == "\r\n");
  if (h->end != qmail::header::End::kBlank) QMAIL_CHECK(in.empty());
  return 0;
}
