// qmail-queue's work (qmail-queue(8)): put one message and its envelope
// into the queue durably, or leave nothing behind but scratch files that
// qmail-clean removes. Once enqueue() returns 0 the message is never lost.
#pragma once

#include <sys/types.h>

#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "home/home.h"
#include "queue/envelope.h"
#include "queue/layout.h"

namespace qmail::queue {

// qmail-queue(8) exit codes for trouble with one queue subdirectory (the
// general ones are in base/exit_codes.h).
namespace qq_exit {
inline constexpr int kPidDir = 63;   // queue/pid
inline constexpr int kMessDir = 64;  // queue/mess
inline constexpr int kIntdDir = 65;  // queue/intd
inline constexpr int kTodoDir = 66;  // queue/todo
}  // namespace qq_exit

// qmail-queue(8) "Timeout": the whole run may take at most this long.
inline constexpr unsigned kQueueTimeout = 86400;

struct EnqueueRequest {
  int message_fd = 0;    // read to EOF first
  int envelope_fd = 1;   // then "F<sender>\0T<rcpt>\0...\0"
  uid_t uid = 0;         // recorded as u<uid> in intd
  pid_t pid = 0;         // names pid/<pid>; recorded as p<pid>
  std::string received;  // the full Received line with its "\n"
};

// One message going into the queue, step by step: begin() makes the
// message file (pid-file trick or a recycled inode, then mess/<s>/<id>)
// and writes the Received line; write() appends message bytes; commit()
// writes and checks the envelope, makes everything durable and links
// todo/<id>. Each returns 0 or qmail-queue's exit code; after a nonzero
// one the Enqueuer is done. Destroyed before a successful commit, it
// removes every file it made. enqueue() below is qmail-queue's use of it;
// queue::Submission uses it in the caller's own process where qmail-queue
// would run as the caller anyway (queue/inject.h). At most one Enqueuer
// may be unfinished in a process at a time (the SIGALRM cleanup of
// arm_timeout knows one set of files), and its `pid` must be the
// process's own: it names pid/<pid>. `timeout_armed`: arm_timeout() is
// in force, and commit() disarms it at the commit point.
class Enqueuer {
 public:
  Enqueuer(const Layout& q, uid_t uid, pid_t pid, bool timeout_armed = false);
  ~Enqueuer();
  Enqueuer(const Enqueuer&) = delete;
  Enqueuer& operator=(const Enqueuer&) = delete;

  int begin(std::string_view received);
  int write(std::string_view bytes);
  // `envelope`: "F<sender>\0T<rcpt>\0...\0" (envelopes(5)), complete.
  int commit(std::string_view envelope);
  // `copy_envelope` writes the checked records to the intd descriptor it
  // is given and returns 0 or an exit code.
  int commit(const std::function<int(int intd_fd)>& copy_envelope);

 private:
  struct Files;
  Layout q_;
  uid_t uid_;
  pid_t pid_;
  bool timeout_armed_;
  std::unique_ptr<Files> files_;
};

// Queues one message in `q` and returns qmail-queue's exit code: 0, or
// the code from the qmail-queue(8) table (53 write error/disk full, 54
// read error, 62-66 queue trouble, 11 address too long, 91 envelope
// format). On failure every file it made is removed again. Streams both
// inputs: memory use does not depend on the message or envelope size.
// Does not poke the trigger (see pull_trigger).
int enqueue(const Layout& q, const EnqueueRequest& req);

// For Enqueuer::commit's `copy_envelope`: checks envelope bytes as they
// arrive and copies its records (without the final NUL) to `intd_fd`.
// Returns 0 at the end of the envelope, -1 when more is wanted (input
// that ends there is qmail-queue's read error, 54, as in qmail), or an
// exit code.
int feed_envelope(EnvelopeParser& parser, std::string_view chunk, int intd_fd);

// Arms SIGALRM for `seconds`: when it fires, the files of the enqueue() in
// progress (pid, mess, intd) are removed and the process exits 52
// (qmail-queue(8) "Timeout"). enqueue() disarms it just before the commit.
void arm_timeout(unsigned seconds);

// Wakes qmail-send: writes one byte to lock/trigger without blocking;
// every error is ignored (no qmail-send running is normal).
void pull_trigger(const Layout& q);

// RFC 5322 date in UTC as qmail writes it: "22 Nov 2026 00:30:45 -0000".
std::string date822(std::time_t t);

// qmail-queue's Received line, e.g. "Received: (qmail 123 invoked by uid
// 1000); 22 Nov 2026 00:30:45 -0000\n". `ids` (may be null) names qmail's
// users: alias -> "invoked by alias", qmaild -> "invoked from network",
// qmails -> "invoked for bounce". In a single-user home all of those are
// one uid, so there it always says "invoked by uid N".
std::string received_line(pid_t pid, uid_t uid, const home::Ids* ids, std::time_t now);

}  // namespace qmail::queue
