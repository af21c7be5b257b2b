// Fuzzes header splitting: never crashes, every field has a valid name
// and ends in '\n', and the fields plus what follows give back the input
// (up to the newlines qmail adds and the MBOX-Line prefix).
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
  std::string joined;
  for (const std::string& f : h->fields) {
    QMAIL_CHECK(!f.empty() && f.back() == '\n');
    QMAIL_CHECK(!qmail::header::field_name(f).empty());
    std::string_view v = f;
    if (v.starts_with("MBOX-Line: From ")) v.remove_prefix(11);
    joined += v;
    (void)qmail::header::unfold(qmail::header::field_value(f));
  }
  if (h->end == qmail::header::End::kBodyLine) joined += h->body_line;
  std::string_view consumed = s.substr(0, rest);
  if (h->end == qmail::header::End::kBlank) {
    QMAIL_CHECK(consumed.ends_with("\n"));
    consumed.remove_suffix(consumed.ends_with("\r\n") ? 2 : 1);
  }
  // The parser only ever adds one '\n' at the very end.
  QMAIL_CHECK(joined == consumed || joined == std::string(consumed) + "\n");
  return 0;
}
