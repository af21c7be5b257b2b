// Fuzzes the spawn protocol decoders (commands and replies) and the
// translation of qmail-remote's reports.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/check.h"
#include "spawn/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  qmail::spawn::Decoder c, r;
  // Fed in two pieces to exercise partial records.
  c.feed(in.substr(0, size / 2));
  r.feed(in.substr(0, size / 2));
  for (int round = 0; round < 2; ++round) {
    for (;;) {
      auto cmd = c.next_command();
      if (!cmd.is_ok() || !*cmd) break;
    }
    for (;;) {
      auto rep = r.next_reply();
      if (!rep.is_ok() || !*rep) break;
      QMAIL_CHECK((*rep)->result == 'K' || (*rep)->result == 'Z' || (*rep)->result == 'D');
    }
    c.feed(in.substr(size / 2));
    r.feed(in.substr(size / 2));
  }
  auto rr = qmail::spawn::remote_result(0, in);
  QMAIL_CHECK(rr.result == 'K' || rr.result == 'Z' || rr.result == 'D');
  QMAIL_CHECK(rr.text.size() <= qmail::spawn::kMaxReport);
  return 0;
}
