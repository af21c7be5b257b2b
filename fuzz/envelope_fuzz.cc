// Fuzzes the envelope parsers: qmail-queue's fd-1 envelope (whole and
// streamed in arbitrary pieces, which must agree) and intd/todo files.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/check.h"
#include "queue/envelope.h"

using qmail::queue::EnvelopeParser;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);

  EnvelopeParser whole;
  std::size_t used = whole.feed(in);
  whole.eof();
  QMAIL_CHECK(used <= in.size());
  QMAIL_CHECK(whole.done() != (whole.error() != EnvelopeParser::Error::kNone));

  // The same bytes in pieces whose sizes come from the input itself.
  EnvelopeParser pieces;
  std::size_t pos = 0, step = size ? (data[0] % 7) + 1 : 1;
  while (pos < in.size()) {
    std::size_t n = pieces.feed(in.substr(pos, step));
    pos += n;
    if (pieces.done() || pieces.error() != EnvelopeParser::Error::kNone) break;
    step = (step * 5 + 3) % 11 + 1;
  }
  pieces.eof();
  QMAIL_CHECK(pieces.done() == whole.done());
  QMAIL_CHECK(pieces.error() == whole.error());
  if (whole.done()) {
    QMAIL_CHECK(pos == used);
    QMAIL_CHECK(pieces.recipients() == whole.recipients());
  }

  auto env = qmail::queue::parse_envelope(in);
  QMAIL_CHECK(env.is_ok() == whole.done());
  if (env.is_ok()) {
    QMAIL_CHECK(env->recipients.size() == whole.recipients());
    // What qmail-queue would write to intd parses back to the same.
    qmail::queue::QueueEnvelope qe{1, 2, env->sender, env->recipients};
    auto back = qmail::queue::parse_queue_envelope(qmail::queue::format_queue_envelope(qe));
    QMAIL_CHECK(back.is_ok());
    QMAIL_CHECK(back->sender == env->sender);
    QMAIL_CHECK(back->recipients == env->recipients);
  }

  // The input as an intd/todo file.
  auto qf = qmail::queue::parse_queue_envelope(in);
  if (qf.is_ok()) {
    auto again = qmail::queue::parse_queue_envelope(qmail::queue::format_queue_envelope(*qf));
    QMAIL_CHECK(again.is_ok());
    QMAIL_CHECK(again->recipients == qf->recipients);
  }
  return 0;
}
