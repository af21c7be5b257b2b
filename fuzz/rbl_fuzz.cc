// Fuzzes what qmail-tcpsrv -r takes from the network: TXT rdata from an
// RBL (dns::parse_txt_rdata), its rendering as a reply (rbl::safe_text)
// and the refusing conversation's command handling (rbl::answer).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/check.h"
#include "dns/dns.h"
#include "net/rbl.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  if (auto txt = qmail::dns::parse_txt_rdata(s)) QMAIL_CHECK(txt->size() < s.size());
  std::string text = qmail::net::rbl::safe_text(s, "bl.example");
  QMAIL_CHECK(!text.empty() && text.size() <= qmail::net::rbl::kMaxText + 64);
  for (char c : text) QMAIL_CHECK(c != '\r' && c != '\n');
  bool quit = false;
  std::string a =
      qmail::net::rbl::answer(s.substr(0, qmail::net::rbl::kMaxLine), "451 no\r\n", "h", &quit);
  QMAIL_CHECK(a.ends_with("\r\n") && a.find('\n') == a.size() - 1);
  if (auto src = qmail::net::rbl::parse_source(s, false); src.is_ok()) {
    std::string name = qmail::dns::reverse_name(qmail::dns::IpAddr::v4(1, 2, 3, 4), src->zone);
    QMAIL_CHECK(name.ends_with(src->zone));
  }
  return 0;
}
