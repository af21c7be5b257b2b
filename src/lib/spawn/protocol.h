// The spawn protocol between qmail-send and its spawners (qmail-lspawn,
// qmail-rspawn), and how the spawners turn a child's exit into a result.
//
// Ours (qmail's own wire format is private to qmail; this one is text0 like
// the rest of the queue):
//   command (qmail-send -> spawner), one per delivery:
//     "<d>\0<id>\0<sender>\0<recipient>\0"
//     d = delivery number (decimal, 1..kMaxDelivery), id = message id
//     (decimal inode number: the spawner opens HOME/queue/mess/<id%split>/<id>),
//     sender = envelope sender, recipient = the routed address
//     ("local@domain" for lspawn, "user@host" for rspawn).
//   reply (spawner -> qmail-send), one per command, in any order:
//     "<d>\0<r><text>\0"
//     r = 'K' success, 'Z' temporary failure, 'D' permanent failure;
//     text = the human-readable report (may contain '\n', never '\0').
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace qmail::spawn {

// Addresses longer than this are refused by qmail-queue anyway
// (qmail-queue(8) exit 11 "address too long"); generous.
inline constexpr std::size_t kMaxField = 65536;
// Delivery numbers wrap far below this.
inline constexpr std::uint64_t kMaxDelivery = 1ULL << 62;
// A report is truncated to this many bytes (qmail-local's reports are a
// line or two; the bound only stops a runaway child).
inline constexpr std::size_t kMaxReport = 16384;

struct Command {
  std::uint64_t delivery = 0;
  std::uint64_t id = 0;
  std::string sender;
  std::string recipient;
};

struct Reply {
  std::uint64_t delivery = 0;
  char result = 'Z';  // 'K', 'Z' or 'D'
  std::string text;
};

std::string encode(const Command& c);
std::string encode(const Reply& r);

// Incremental decoder of a stream of text0 fields. feed() appends bytes;
// next_*() returns a complete record or nullopt if more input is needed.
// Errors: perm on a malformed record (a sibling's bug: the caller logs it
// and gives up on the stream).
class Decoder {
 public:
  void feed(std::string_view bytes) { buf_.append(bytes); }
  Result<std::optional<Command>> next_command();
  Result<std::optional<Reply>> next_reply();
  bool empty() const { return pos_ >= buf_.size(); }

 private:
  // Up to `n` complete fields starting at pos_, or fewer if incomplete.
  bool take_fields(std::size_t n, std::string_view* out);
  Status check_overlong() const;
  std::string buf_;
  std::size_t pos_ = 0;
};

// qmail-local(8) exit codes: 0 success; 100 and the sysexits 64, 65, 70,
// 76, 77, 78 and 112 permanent; anything else (111, signals) temporary.
// `wstat` is a waitpid status; `output` the report the child printed.
// Output longer than kMaxReport is cut and ends in "Error report too
// long, sorry." (qmail-limits(7)).
Reply local_result(int wstat, std::string_view output);

// qmail-remote(8): recipient reports r/h/s then a message report K/Z/D,
// each NUL-terminated. For a single recipient: 'r' takes the message
// report's letter, 'h' is permanent, 's' temporary; with no recipient
// report the message report decides. The texts are joined. A crashed or
// silent qmail-remote is a temporary failure.
Reply remote_result(int wstat, std::string_view output);

// qmail-log(5) form of an address or a report, as qmail-send's logsafe
// writes it: '\n' -> '/'; ' ', '%', control bytes and bytes past 126 -> '_'
// (so it stays one field of one log line, as qmailanalog splits them).
std::string log_text(std::string_view report);

}  // namespace qmail::spawn
