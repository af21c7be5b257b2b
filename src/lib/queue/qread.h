// Looking at the queue without touching it: qmail-qread(8) and
// qmail-qstat(8). Everything here only reads, and copes with files that
// vanish under it (a running qmail-send keeps changing the queue).
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

#include "base/status.h"
#include "queue/layout.h"

namespace qmail::queue {

struct QueuedRecipient {
  enum class Channel { kLocal, kRemote, kTodo };
  Channel channel;
  bool done;  // 'D' in local/remote: delivered or bounced
  std::string address;
};

struct QueuedMessage {
  std::uint64_t id = 0;
  std::time_t queued = 0;  // mtime of info/<s>/<id> (of todo/<id> before preprocessing)
  std::uint64_t size = 0;  // bytes in mess/<s>/<id>
  std::string sender;
  bool bouncing = false;     // bounce/<id> exists
  bool preprocessed = true;  // false: only todo/<id> so far
  std::vector<QueuedRecipient> recipients;
};

struct QueueScan {
  std::vector<QueuedMessage> messages;  // sorted by (queued, id)
  std::vector<std::string> warnings;    // "trouble with #id: ..."
};

// Reads info/, local/, remote/, bounce/ and mess/, plus todo/ for
// messages qmail-send has not preprocessed yet. A message whose files
// vanish during the scan is left out silently (it just finished).
// Errors: temp when a queue directory cannot be read.
Result<QueueScan> scan_queue(const Layout& q);

// qmail-qread's lines for one message, as qmail prints them:
//   "22 Nov 2026 00:30:45 GMT  #1234  567  <sender> [ bouncing]\n"
//   "\tremote\taddr\n", "  done\tlocal\taddr\n", and for a message still in
//   todo "\ttodo\taddr\n" (with " preprocessing" on the first line).
// Bytes outside 32..126 in addresses are shown as '_'.
std::string format_qread(const QueuedMessage& m);

struct QueueCounts {
  std::uint64_t messages = 0;  // files in mess/*
  std::uint64_t todo = 0;      // files in todo
};
// qmail-qstat's numbers. Errors: temp when a directory cannot be read.
Result<QueueCounts> count_queue(const Layout& q);
// "messages in queue: N\nmessages in queue but not yet preprocessed: M\n"
std::string format_qstat(const QueueCounts& c);

}  // namespace qmail::queue
