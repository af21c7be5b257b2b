// Fuzzes control/smtproutes parsing and lookup (remote/smtproutes.h).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/check.h"
#include "remote/smtproutes.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  auto routes = qmail::remote::SmtpRoutes::parse(s);
  if (!routes.is_ok()) return 0;
  for (std::string_view host : {"a.example", "x.af.mil", "", ".", "[1.2.3.4]", "A.B.C.D.E"}) {
    auto r = routes->find(host);
    if (r) QMAIL_CHECK(r->port != 0);
  }
  // Every domain of the file is also a lookup key.
  auto nl = s.find('\n');
  auto first = s.substr(0, nl);
  (void)routes->find(first.substr(0, first.find(':')));
  return 0;
}
