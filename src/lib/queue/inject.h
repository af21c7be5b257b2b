// Submitting a message to the queue through qmail-queue(8), as every
// qmail program that queues mail does: qmail-inject, qmail-local (forwards),
// qmail-send (bounces), qmail-smtpd later.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "io/fd.h"

namespace qmail::queue {

class Enqueuer;

// Starts `prog` (qmail-queue) with `fd0` and `fd1` on its descriptors 0
// and 1, the caller's 2, `fd6` (unless -1) on 6, nothing else, no signal
// blocked and SIGPIPE at its default, without copying the caller's
// memory (posix_spawn). Returns its pid, or -1 (nothing started).
// Submission's and QueueServer's (queue/serve.h) way of running
// qmail-queue.
pid_t spawn_queue(const char* prog, int fd0, int fd1, int fd6 = -1);

// One run of qmail-queue. start() forks $QMAILQUEUE (honoured unless the
// process is setuid/setgid) or else HOME/bin/qmail-queue, with the message
// pipe on its fd 0 and the envelope pipe on its fd 1. put() streams message
// bytes; finish() closes the message, writes the envelope
// ("F<sender>\0T<rcpt>\0...\0") and returns qmail-queue's exit code
// (0 = queued; see exit_codes.h queue_exit for the rest). A Submission
// destroyed without finish() kills and reaps the child; nothing is queued.
//
// In the caller's process: when HOME/bin/qmail-queue is our own program
// and not set-id (a single-user home, where it would run as the caller
// anyway) and $QMAILQUEUE is unset, no process is started at all: the
// message goes straight into the queue through queue::Enqueuer, with
// qmail-queue's checks, Received line (the caller's pid) and exit codes.
// pid() is then the caller's own pid. One such run at a time per process;
// a second concurrent Submission forks as below.
//
// Details: the child gets exactly fds 0 (message), 1 (envelope) and 2 (the
// caller's stderr); every other descriptor is closed, SIGPIPE is reset to
// default and the signal mask cleared. A child that cannot exec exits 120
// (qmail's "unable to exec qq"). If writing message or envelope failed but
// qmail-queue still exited 0, finish() returns 54 (read error), as qmail's
// qmail_close does. Callers must ignore SIGPIPE (run_program does).
class Submission {
 public:
  static Result<Submission> start();
  // For a process that queues message after message (a qmail-smtpd
  // worker): where HOME/bin/qmail-queue is our own program and set-id (a
  // root-mode home), one qmail-queue is started with the first message
  // and kept serving the next ones over a socket, instead of an exec per
  // message (queue/serve.h). Returns the descriptor number reserved for
  // that socket from now on, for the caller to keep open.
  static int enable_server();
  // Lets that qmail-queue go, if one runs, and reaps it (before the
  // process exits).
  static void stop_server();
  // Looks at HOME/bin/qmail-queue now, while this process may still read
  // it (a setuid qmail-queue is mode 4711): a process that later runs
  // under a uid that cannot read it (qmail-tcpsrv -u qmaild) still knows
  // it for ours while the file stays the same (same inode, size, times).
  static void recognize_queue_program();
  Submission(Submission&&) noexcept;
  Submission& operator=(Submission&&) noexcept;
  ~Submission();

  // Errors: temp when qmail-queue went away (its exit code then tells why;
  // call finish() to get it).
  Status put(std::string_view bytes);
  // Copies everything readable from `fd` into the message.
  Status put_fd(int fd);
  // Returns qmail-queue's exit code, or a temp error if it could not be
  // run or died by a signal.
  Result<int> finish(std::string_view sender, const std::vector<std::string>& recipients);
  // What to tell the client when finish() returned `code` (nonzero):
  // permanent or not, and the text (with its "(#x.y.z)"). qmail-queue(8):
  // 82 means a program offering qmail-queue's interface wrote its own
  // reason to descriptor 6, "D..." permanent, "Z..." temporary; any other
  // code is described by queue_exit::describe.
  struct Refusal {
    bool perm;
    std::string text;
    // The refusal as an error: `prefix` + text, permanent or temporary.
    Status status(std::string_view prefix) const {
      std::string why = std::string(prefix) + text;
      return perm ? Status::perm(why) : Status::temp(why);
    }
  };
  Refusal refusal(int code) const;
  // qmail-queue's pid while it runs (-1 after finish): qmail-log(5)'s "qp".
  pid_t pid() const { return pid_; }

 private:
  Submission() = default;
  Status start_in_process();
  void end_in_process();
  void take_buffer();
  // Served run (enable_server): tells the server to forget the message.
  void end_served();
  Status write_out(std::string_view data);
  pid_t pid_ = -1;
  // In-process run (see above): the enqueue in progress, and the exit
  // code so far.
  std::unique_ptr<Enqueuer> enq_;
  int code_ = 0;
  Fd message_;
  Fd envelope_;
  // The read end of the child's descriptor 6 (qmail-queue(8), exit 82),
  // and what came through it.
  Fd custom_;
  std::string custom_error_;
  std::string buf_;
  bool broken_ = false;
  bool served_ = false;
  Status flush();
};

}  // namespace qmail::queue
