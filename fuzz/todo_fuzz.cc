// Fuzzes the queue file parsers of qmail-send: todo/, info/ and the
// local/remote recipient lists.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/check.h"
#include "send/envelope.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)qmail::send::parse_todo(in);
  (void)qmail::send::parse_info(in);
  auto r = qmail::send::parse_rcpts(in);
  if (r.is_ok())
    for (const auto& rec : *r) {
      QMAIL_CHECK(rec.offset < in.size());
      QMAIL_CHECK(in[rec.offset] == 'T' || in[rec.offset] == 'D');
    }
  return 0;
}
