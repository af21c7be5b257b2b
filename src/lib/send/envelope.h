// The queue files qmail-send reads and writes (see queue/layout.h):
//   todo/<id>            "u<uid>\0p<pid>\0F<sender>\0T<rcpt>\0..." (qmail-queue)
//   info/<s>/<id>        "F<sender>\0"; its mtime is the message's birth
//   local/<s>/<id>,      one "T<rcpt>\0" record per recipient; 'T' becomes
//   remote/<s>/<id>      'D' in place once that recipient is done; the
//                        file's mtime is the channel's next retry time
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace qmail::send {

// A todo file is read whole; this bounds it (qmail-queue accepts about
// this much envelope).
inline constexpr std::size_t kMaxEnvelope = 64 * 1024 * 1024;

struct Todo {
  std::uint64_t uid = 0;
  std::uint64_t qp = 0;  // pid of the qmail-queue that queued it
  std::string sender;
  std::vector<std::string> recipients;
};

// Parses a todo file. 'u' and 'p' are optional, 'F' required (once);
// an empty record (trailing NUL) is ignored. Errors: perm "unknown record
// type" and friends: the file is not ours to fix.
Result<Todo> parse_todo(std::string_view text);

struct RcptRecord {
  std::string address;
  std::size_t offset = 0;  // of the 'T'/'D' byte in the file
  bool done = false;
};

// Parses local/remote file contents. A trailing partial record (no NUL)
// is ignored: it can only come from a write the crash cut short, and the
// todo file (still present then) is processed again. Errors: perm on an
// unknown record type.
Result<std::vector<RcptRecord>> parse_rcpts(std::string_view text);

// Builds local/remote contents; records start undone ('T').
std::string format_rcpts(const std::vector<std::string>& addrs);

// info file: "F<sender>\0". Errors: perm when it does not start so.
Result<std::string> parse_info(std::string_view text);
std::string format_info(std::string_view sender);

}  // namespace qmail::send
