// Fuzzes how qmail-showctl and config-fast read control text: every
// control file described with the input as its contents, and the input as
// a host name for config-fast's domain rules.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/check.h"
#include "setup/setup.h"
#include "setup/showctl.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  for (const auto& c : qmail::setup::control_files()) {
    std::string out = qmail::setup::describe_control(c, text, "me.example");
    // Nothing from the file reaches the report unescaped except newlines
    // that the report itself puts between list entries.
    for (char ch : out) QMAIL_CHECK(ch == '\n' || static_cast<unsigned char>(ch) >= 32);
  }
  std::string d = qmail::setup::default_domain(text);
  std::string p = qmail::setup::plus_domain(text);
  QMAIL_CHECK(d.size() <= text.size() && p.size() <= text.size());
  QMAIL_CHECK(text.ends_with(d) && text.ends_with(p));
  return 0;
}
