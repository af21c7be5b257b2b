// Fuzzes the address-list parser: it must never crash, and formatting what
// it parsed must be a fixed point (format(parse(format(x))) == format(x)),
// with the same envelope addresses; quote() must round-trip through
// parse_one.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "addr/addr.h"
#include "addr/smtp_path.h"
#include "base/check.h"

namespace {
std::vector<std::string> addresses(qmail::addr::AddressList list) {
  std::vector<std::string> out;
  qmail::addr::for_each_mailbox(list, [&](qmail::addr::Mailbox& m) {
    if (m.is_address()) out.push_back(m.address());
  });
  return out;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  auto r = qmail::addr::parse_list(s);
  if (r.is_ok()) {
    std::string once = qmail::addr::format_list(*r, 4);
    auto again = qmail::addr::parse_list(once);
    QMAIL_CHECK(again.is_ok());
    QMAIL_CHECK(qmail::addr::format_list(*again, 4) == once);
    QMAIL_CHECK(addresses(*again) == addresses(*r));
  }
  (void)qmail::addr::split(s);
  (void)qmail::addr::parse_path(s);
  // Envelope -> header -> envelope is the identity for addresses without
  // CR/LF (which a header cannot carry) that are not empty.
  if (!s.empty() && s.find_first_of("\r\n") == std::string_view::npos) {
    auto split = qmail::addr::split(s);
    bool domain_ok = split.domain.find_first_of(" \t()<>@,;:\\\"[].") == std::string_view::npos &&
                     !split.domain.empty() && !split.local.empty();
    if (domain_ok) {
      auto m = qmail::addr::parse_one(qmail::addr::quote(s));
      QMAIL_CHECK(m.is_ok());
      QMAIL_CHECK(m->address() == s);
    }
  }
  return 0;
}
