// Fuzzes the small string helpers used on control files and envelopes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/log.h"
#include "base/strings.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  (void)qmail::str::parse_uint(s, 1000000);
  (void)qmail::str::split(s, ':');
  (void)qmail::str::trim(s);
  (void)qmail::log::escape(s);
  return 0;
}
