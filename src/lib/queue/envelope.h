// Envelopes as qmail passes them around (qmail-queue(8), envelopes(5)):
// the envelope qmail-queue reads on fd 1, "F<sender>\0T<rcpt>\0...T<rcpt>\0\0",
// and the intd/todo files it writes, "u<uid>\0p<pid>\0F<sender>\0T<rcpt>\0..."
// (see layout.h).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace qmail::queue {

// qmail-queue(8) exit 11, "address too long": our documented bound on one
// envelope address (sender or recipient), not counting its F/T letter and
// NUL terminator. qmail's own bound was 1000-odd octets; RFC 5321 4.5.3.1.3
// allows paths of only 256, so real addresses never come near it.
inline constexpr std::size_t kMaxAddress = 1000;

// A streaming, allocation-free checker for qmail-queue's fd-1 envelope.
// Feed it bytes as they arrive; it stops consuming at the envelope's final
// NUL. Errors: kFormat (qmail-queue exit 91: a record not starting with F
// first or T after, or end of input before the final NUL) and kTooLong
// (exit 11: an address longer than kMaxAddress).
class EnvelopeParser {
 public:
  enum class Error { kNone, kFormat, kTooLong };

  // Consumes a prefix of `data` (all of it unless the envelope ends or an
  // error is found inside it) and returns its length.
  std::size_t feed(std::string_view data);
  // Call at end of input: an unfinished envelope becomes kFormat.
  void eof();

  bool done() const { return state_ == State::kDone; }
  Error error() const { return error_; }
  std::uint64_t recipients() const { return recipients_; }

 private:
  enum class State { kStart, kSender, kRecordStart, kRecipient, kDone, kFailed };
  void fail(Error e) {
    error_ = e;
    state_ = State::kFailed;
  }
  State state_ = State::kStart;
  Error error_ = Error::kNone;
  std::size_t addr_len_ = 0;
  std::uint64_t recipients_ = 0;
};

struct Envelope {
  std::string sender;
  std::vector<std::string> recipients;
};

// Parses a whole fd-1 envelope. Bytes after the final NUL are ignored, as
// qmail-queue ignores them. Errors: temp "envelope format error" (exit 91
// is temporary), perm "address too long" (exit 11 is permanent).
Result<Envelope> parse_envelope(std::string_view data);

// The contents of an intd/<id> or todo/<id> file.
struct QueueEnvelope {
  std::uint64_t uid = 0;  // who ran qmail-queue
  std::uint64_t pid = 0;  // qmail-queue's pid
  std::string sender;
  std::vector<std::string> recipients;
};

// Parses an intd/todo file. Records are "<letter><text>\0"; u and p carry
// decimal numbers; exactly one F comes before any T. Unknown letters are
// skipped (room to grow). Errors: perm "bad queue file: ..." when a record
// is unterminated, u/p are not numbers, F is missing or repeated, or a T
// precedes F.
Result<QueueEnvelope> parse_queue_envelope(std::string_view data);

// The bytes qmail-queue writes to intd for (uid, pid) and the given
// envelope (for tests and tools; qmail-queue itself streams them).
std::string format_queue_envelope(const QueueEnvelope& env);

}  // namespace qmail::queue
