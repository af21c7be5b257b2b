#include "queue/envelope.h"

#include <cstring>

#include "base/strings.h"

namespace qmail::queue {

std::size_t EnvelopeParser::feed(std::string_view data) {
  std::size_t i = 0;
  while (i < data.size()) {
    switch (state_) {
      case State::kDone:
      case State::kFailed:
        return i;
      case State::kStart:
        if (data[i++] != 'F') {
          fail(Error::kFormat);
          return i;
        }
        addr_len_ = 0;
        state_ = State::kSender;
        break;
      case State::kRecordStart: {
        char c = data[i++];
        if (c == '\0') {
          state_ = State::kDone;
          return i;
        }
        if (c != 'T') {
          fail(Error::kFormat);
          return i;
        }
        addr_len_ = 0;
        state_ = State::kRecipient;
        break;
      }
      case State::kSender:
      case State::kRecipient: {
        // Scan the address text in one step rather than byte by byte.
        const char* start = data.data() + i;
        std::size_t avail = data.size() - i;
        const void* nul = std::memchr(start, '\0', avail);
        std::size_t len =
            nul ? static_cast<std::size_t>(static_cast<const char*>(nul) - start) : avail;
        if (len > kMaxAddress - addr_len_) {
          fail(Error::kTooLong);
          return i;
        }
        addr_len_ += len;
        i += len;
        if (nul) {
          ++i;
          if (state_ == State::kRecipient) ++recipients_;
          state_ = State::kRecordStart;
        }
        break;
      }
    }
  }
  return i;
}

void EnvelopeParser::eof() {
  // qmail-queue(8): end of file before the extra 0 byte aborts.
  if (state_ != State::kDone && state_ != State::kFailed) fail(Error::kFormat);
}

Result<Envelope> parse_envelope(std::string_view data) {
  EnvelopeParser p;
  std::size_t used = p.feed(data);
  p.eof();
  if (p.error() == EnvelopeParser::Error::kTooLong) return Status::perm("address too long");
  if (!p.done()) return Status::temp("envelope format error");
  // The checker has vouched for the shape; now split it.
  Envelope env;
  std::string_view rest = data.substr(0, used - 1);  // drop the final NUL
  bool first = true;
  while (!rest.empty()) {
    std::size_t nul = rest.find('\0');
    std::string_view rec = rest.substr(1, nul - 1);
    if (first)
      env.sender.assign(rec);
    else
      env.recipients.emplace_back(rec);
    first = false;
    rest.remove_prefix(nul + 1);
  }
  return env;
}

Result<QueueEnvelope> parse_queue_envelope(std::string_view data) {
  QueueEnvelope env;
  bool have_sender = false;
  while (!data.empty()) {
    std::size_t nul = data.find('\0');
    if (nul == std::string_view::npos) return Status::perm("bad queue file: unterminated record");
    std::string_view rec = data.substr(0, nul);
    data.remove_prefix(nul + 1);
    if (rec.empty()) continue;  // tolerate a stray terminator
    std::string_view text = rec.substr(1);
    switch (rec[0]) {
      case 'u':
      case 'p': {
        auto n = str::parse_uint(text);
        if (!n) return Status::perm("bad queue file: bad number");
        (rec[0] == 'u' ? env.uid : env.pid) = *n;
        break;
      }
      case 'F':
        if (have_sender) return Status::perm("bad queue file: two senders");
        env.sender.assign(text);
        have_sender = true;
        break;
      case 'T':
        if (!have_sender) return Status::perm("bad queue file: recipient before sender");
        env.recipients.emplace_back(text);
        break;
      default:
        break;
    }
  }
  if (!have_sender) return Status::perm("bad queue file: no sender");
  return env;
}

std::string format_queue_envelope(const QueueEnvelope& env) {
  std::string out;
  out += 'u';
  out += std::to_string(env.uid);
  out += '\0';
  out += 'p';
  out += std::to_string(env.pid);
  out += '\0';
  out += 'F';
  out += env.sender;
  out += '\0';
  for (const auto& r : env.recipients) {
    out += 'T';
    out += r;
    out += '\0';
  }
  return out;
}

}  // namespace qmail::queue
