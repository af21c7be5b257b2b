// Fuzzes the .qmail parser (dot-qmail(5)), the extension helpers and the
// mbox >From quoter, and the header and address parsers of the helpers: all
// read text a user or a remote sender controls.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/check.h"
#include "local/dotqmail.h"
#include "local/header.h"
#include "local/message.h"
#include "local/notify.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  auto parsed = qmail::local::parse(s);
  if (parsed.is_ok()) {
    for (const auto& in : *parsed) {
      QMAIL_CHECK(!in.text.empty() || in.kind == qmail::local::Kind::kProgram);
      QMAIL_CHECK(in.text.find('\n') == std::string::npos);
      QMAIL_CHECK(in.text.find('\0') == std::string::npos);
    }
  }
  std::string_view ext = s.substr(0, s.size() < 200 ? s.size() : 200);
  for (const auto& c : qmail::local::candidates("-", ext)) {
    // A candidate name never leaves the home directory.
    QMAIL_CHECK(c.name.find("..") == std::string::npos);
    QMAIL_CHECK(c.name.rfind(".qmail-", 0) == 0);
  }
  (void)qmail::local::after_first_dash(ext);
  (void)qmail::local::before_last_dot(ext);
  // Quoting in two chunks equals quoting in one.
  std::string whole, split;
  qmail::local::FromQuoter a, b;
  a.put(s, whole);
  a.finish(whole);
  b.put(s.substr(0, size / 2), split);
  b.put(s.substr(size / 2), split);
  b.finish(split);
  QMAIL_CHECK(whole == split);
  QMAIL_CHECK(whole.size() >= s.size());
  // Header fields and address lists from a remote sender.
  auto header = qmail::local::parse_header(s);
  QMAIL_CHECK(header.size() <= qmail::local::kMaxHeaderFields);
  for (const auto& f : header) (void)qmail::local::parse_addresses(f.value);
  (void)qmail::local::parse_addresses(s);
  std::string notice = qmail::local::biff_notice(ext, header);
  for (char c : notice) {
    QMAIL_CHECK(c == '\r' || c == '\n' || c == '\a' || (c >= 32 && c < 127));
  }
  return 0;
}
