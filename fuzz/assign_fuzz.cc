// Fuzzes the users/assign parser (qmail-users(5)): no crash on any input,
// and every parsed line formats back to a line that parses the same.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/check.h"
#include "users/users.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  auto lines = qmail::users::parse_assign(s);
  if (!lines.is_ok()) return 0;
  std::string again;
  for (const auto& l : *lines) again += qmail::users::format_assign(l) + "\n";
  again += ".\n";
  auto reparsed = qmail::users::parse_assign(again);
  QMAIL_CHECK(reparsed.is_ok());
  QMAIL_CHECK(*reparsed == *lines);
  return 0;
}
