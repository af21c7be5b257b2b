// Fuzzes the SMTP reply parser and EHLO keyword parsing (remote/reply.h),
// and the DNS rdata parsers qmail-remote uses on resolver answers.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/check.h"
#include "dns/dns.h"
#include "remote/reply.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  auto replies = qmail::remote::parse_replies(s);
  if (replies.is_ok()) {
    for (const auto& r : *replies) {
      QMAIL_CHECK(r.code >= 200 && r.code <= 599);
      QMAIL_CHECK(!r.lines.empty() && r.lines.size() <= qmail::remote::kMaxReplyLines);
      QMAIL_CHECK(r.text().find('\0') == std::string::npos);
      (void)qmail::remote::parse_ehlo(r);
    }
  }
  if (auto mx = qmail::dns::parse_mx_rdata(s)) QMAIL_CHECK(mx->host.size() <= qmail::dns::kMaxName);
  (void)qmail::dns::parse_a_rdata(s);
  (void)qmail::dns::parse_aaaa_rdata(s);
  (void)qmail::dns::IpAddr::parse(s);
  return 0;
}
