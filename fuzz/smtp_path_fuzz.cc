// Fuzzes the RFC 5321 path parser (MAIL FROM / RCPT TO arguments) and its
// inverse: format_path of a parsed address parses back to that address.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "addr/smtp_path.h"
#include "base/check.h"
#include "smtp/limits.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto r = qmail::addr::parse_path(in);
  if (!r.is_ok()) return 0;
  const auto& p = r->path;
  // rest is a suffix of the input.
  QMAIL_CHECK(r->rest.data() >= in.data() &&
              r->rest.data() + r->rest.size() == in.data() + in.size());
  std::string a = p.address();
  QMAIL_CHECK(a.size() <= qmail::smtp::kMaxPath);
  QMAIL_CHECK(a.find('\0') == std::string::npos);
  QMAIL_CHECK(a.find('\n') == std::string::npos && a.find('\r') == std::string::npos);
  if (p.null) {
    QMAIL_CHECK(a.empty());
  } else {
    QMAIL_CHECK(!p.local.empty());
  }
  // A domain or an address literal; the one exception is qmail-send(8)'s
  // double-bounce sender #@[], taken as qmail takes it.
  if (!p.domain.empty() && !p.literal && a != "#@[]") QMAIL_CHECK(qmail::addr::is_domain(p.domain));
  // qmail-remote sends what qmail-smtpd stored; it must read back the same.
  std::string path = qmail::addr::format_path(a);
  if (path.size() <= qmail::smtp::kMaxPath) {
    auto again = qmail::addr::parse_path(path);
    QMAIL_CHECK(again.is_ok());
    QMAIL_CHECK(again->path.address() == a);
    QMAIL_CHECK(again->rest.empty());
  }
  return 0;
}
