// Fuzzes splogger's folding: never a crash; every entry is a stamp, ' ' or
// '+', then 1..kChunk printable bytes; the text of the entries is the
// input without its newlines (unprintables as '?').
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/check.h"
#include "splogger/splogger.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  qmail::splogger::Folder f([] { return std::string("1.000000"); });
  std::vector<qmail::splogger::Entry> out;
  // In two pieces, as reads may cut the input anywhere.
  f.feed(s.substr(0, size / 2), out);
  f.feed(s.substr(size / 2), out);
  f.finish(out);
  std::string text, want;
  for (char c : s) {
    if (c == '\n') continue;
    auto u = static_cast<unsigned char>(c);
    want += (u < 32 || u > 126) ? '?' : c;
  }
  for (const auto& e : out) {
    QMAIL_CHECK(e.text.size() > 9 && e.text.compare(0, 8, "1.000000") == 0);
    QMAIL_CHECK(e.text[8] == ' ' || e.text[8] == '+');
    std::string_view body = std::string_view(e.text).substr(9);
    QMAIL_CHECK(!body.empty() && body.size() <= qmail::splogger::kChunk);
    for (char c : body) QMAIL_CHECK(c >= 32 && c <= 126);
    text += body;
  }
  QMAIL_CHECK(text == want);
  return 0;
}
