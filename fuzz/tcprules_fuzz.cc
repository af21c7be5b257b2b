// Fuzzes the tcprules source parser and the cdb data decoder.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/check.h"
#include "tcprules/rules.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  auto rules = qmail::tcprules::parse(s);
  if (rules.is_ok()) {
    for (const auto& r : *rules) {
      QMAIL_CHECK(!r.keys.empty());
      // tcprules' records: NUL-terminated, the first "D" or a variable.
      QMAIL_CHECK(r.data.empty() ||
                  (r.data.back() == '\0' && (r.data[0] == 'D' || r.data[0] == '+')));
      // What the parser writes, the decoder reads back.
      QMAIL_CHECK(qmail::tcprules::decode(r.data).is_ok());
    }
  }
  (void)qmail::tcprules::decode(s);
  (void)qmail::tcprules::lookup_keys(s.substr(0, s.size() / 2), s.substr(s.size() / 2), "");
  return 0;
}
