// Fuzzes netstring parsing: parse() must consume exactly what encode()
// makes, and never read past its input.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/check.h"
#include "qmtp/netstring.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string_view rest = in;
  for (int i = 0; i < 100 && !rest.empty(); ++i) {
    std::string_view before = rest;
    auto r = qmail::qmtp::parse(rest, 1 << 20);
    if (!r.is_ok()) break;
    QMAIL_CHECK(qmail::qmtp::encode(*r) == before.substr(0, before.size() - rest.size()));
  }
  return 0;
}
