// One qmail-queue process that queues message after message for one
// caller, instead of one exec of qmail-queue per message (qmail-queue(8),
// "SERVING MANY MESSAGES"). In a root-mode home qmail-queue is setuid
// qmailq and must run as its own process; exec'ing it for every message
// that a qmail-smtpd worker receives (ld.so, glibc's start-up, page
// faults, exit) cost more CPU than the rest of the message's way into
// the queue. A reused caller starts it once and hands it messages over a
// socket; its trust is exactly an exec'd qmail-queue's: the same setuid
// program, started by the caller, whose real uid it records.
//
// The channel is an AF_UNIX SOCK_SEQPACKET socket on qmail-queue's fd 0
// (how qmail-queue knows to serve: no other caller gives it one). Each
// record starts with its type:
//   caller -> qmail-queue
//     'M' bytes   message bytes, in order (at most kServeRecord of them)
//     'E' bytes   envelope bytes ("F<sender>\0T<rcpt>\0...\0", envelopes(5));
//                 the message ends with the envelope's final NUL
//     'A'         forget the message begun so far (nothing is queued)
//   qmail-queue -> caller, at the end of each message
//     one byte    qmail-queue's exit code for it (0 = queued, durably)
// After a nonzero code qmail-queue exits; after 0 it waits for the next
// message. It exits 0 when the caller hangs up between messages; a hang-up
// inside a message queues nothing. Every record is bounded (kServeRecord
// plus the type); a larger one, or an unknown type, ends qmail-queue with
// 54 (read error), as input it cannot read would.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "base/status.h"
#include "home/home.h"
#include "queue/layout.h"

namespace qmail::queue {

inline constexpr char kServeMessage = 'M';
inline constexpr char kServeEnvelope = 'E';
inline constexpr char kServeAbort = 'A';
// Payload bytes of one record at most.
inline constexpr std::size_t kServeRecord = 64 * 1024;

// Is `fd` an AF_UNIX SOCK_SEQPACKET socket (qmail-queue's sign to serve)?
bool is_serve_channel(int fd);

// qmail-queue's side: queues the messages that arrive on `sock` into
// `q`, as the process's real uid and pid (`ids`, may be null, name
// qmail's users for the Received line), until the caller hangs up.
// Returns the process's exit code.
int serve(int sock, const Layout& q, const home::Ids* ids);

// The caller's side: at most one serving qmail-queue per process, started
// on first use and kept for the next message. Used by queue::Submission
// (inject.h) in a process that asked for it with Submission::enable_server().
class QueueServer {
 public:
  static QueueServer& get();

  // A descriptor number reserved for the channel from now on (on
  // /dev/null while no server runs), so that a worker can keep it open
  // across the clean-ups between its connections.
  int reserve_slot();
  bool enabled() const { return slot_ >= 0; }
  // A message is under way (one at a time).
  bool busy() const { return busy_; }

  // Makes sure `prog` (our qmail-queue) is serving and claims it for one
  // message. A server that went away since the last message is reaped and
  // a new one started. Errors: temp when it cannot be started (the caller
  // then runs qmail-queue the usual way).
  Status begin(const std::string& prog);
  // `data` as records of `type`, kServeRecord bytes at most each.
  // Errors: temp when the server went away.
  Status send(char type, std::string_view data);
  // The message's exit code, after its last envelope record. When the
  // server went away instead, its exit status says why (a temp error if
  // it died by a signal). Ends the claim.
  Result<int> result();
  // The message is abandoned: nothing of it is queued. Ends the claim.
  void abort();
  pid_t pid() const { return pid_; }
  // Lets the server go (it exits when the channel closes) and reaps it.
  void stop() { drop(false); }

 private:
  QueueServer() = default;
  // Closes the channel (the slot goes back to /dev/null) and reaps the
  // server; with `kill`, SIGKILL first. Returns the wait status, or -1.
  int drop(bool kill);
  int slot_ = -1;
  int fd_ = -1;
  pid_t pid_ = -1;
  bool busy_ = false;
};

}  // namespace qmail::queue
