// Fuzzes control/virtualdomains parsing and routing: the first line of the
// input is a recipient, the rest the virtualdomains text.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/check.h"
#include "send/route.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::size_t nl = in.find('\n');
  std::string_view rcpt = in.substr(0, nl);
  std::string_view vd = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  qmail::send::Controls c;
  c.locals = {"example.test"};
  c.percenthack = {"example.test", "ph.test"};
  c.virtualdomains = qmail::send::parse_virtualdomains(vd);
  c.envnoathost = "example.test";
  auto r = qmail::send::route(c, rcpt);
  QMAIL_CHECK(r.address.find('@') != std::string::npos);
  return 0;
}
