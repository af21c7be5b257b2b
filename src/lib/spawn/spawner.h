// The event loop shared by qmail-lspawn and qmail-rspawn: read delivery
// commands (spawn/protocol.h) from fd 0, run one child per delivery at
// once (qmail-send bounds the concurrency), and print each result to fd 1
// as soon as its child has exited, in whatever order they finish.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "io/fd.h"
#include "spawn/protocol.h"

namespace qmail::spawn {

class Job {
 public:
  virtual ~Job() = default;
  // Runs in the forked child, with fd 1 the report pipe (every other
  // descriptor but 0 and 2 is closed and signals are at their defaults).
  // Must exec or _exit; anything printed on fd 1 is the report.
  [[noreturn]] virtual void run_child(const Command& c) = 0;
  // Turns the child's waitpid status and report into a result.
  virtual Reply translate(int wstat, std::string_view output) = 0;

  // Reused children ("workers"), optional. A delivery for which
  // worker_job() returns a job is run by a worker: a child forked once
  // for the job's key, which runs start_worker(key) and then, one after
  // another, the deliveries given to it with that key (run_in_worker),
  // instead of a child forked per delivery. Between deliveries the worker
  // is put back as it was forked (descriptors 0 and 1 on /dev/null, every
  // other one but its socket closed, the environment, signals, umask and
  // working directory as they were). Its report and result are those a
  // child's would be: what it printed on fd 1, its exit code.
  struct WorkerJob {
    std::string key;      // workers serve only deliveries with their key
    std::string payload;  // for run_in_worker
    std::vector<Fd> fds;  // sent along (at most 4)
  };
  // In the spawner. nullopt: fork a child for this delivery (run_child).
  virtual std::optional<WorkerJob> worker_job(const Command&) { return std::nullopt; }
  // In a new worker, once. False: it exits at once (its delivery then
  // fails temporarily, as a crashed child's would).
  virtual bool start_worker(const std::string& /*key*/) { return false; }
  // In a worker, one delivery: fd 1 is the report; returns the exit code.
  virtual int run_in_worker(const std::string& /*payload*/, std::vector<Fd>& /*fds*/) {
    return 111;
  }
  // Whether the spawner may rest (rest_if_quiet) while it has nothing to
  // do: qmail-rspawn yes, qmail-lspawn (small, and root) no.
  virtual bool may_rest() const { return false; }
};

// A worker serves at most this many deliveries, and leaves after
// kSpawnWorkerIdleSeconds without one; at most kMaxIdleSpawnWorkers wait.
inline constexpr unsigned kSpawnWorkerDeliveries = 200;
inline constexpr int kSpawnWorkerIdleSeconds = 10;
inline constexpr std::size_t kMaxIdleSpawnWorkers = 32;

// Serves until `in_fd` reaches EOF and every child has been reported.
// SIGTERM is ignored: the spawner leaves when qmail-send closes its
// command pipe, so deliveries under way are always reported.
// Errors: temp when qmail-send's pipes fail; perm on a malformed command.
Status serve(Job& job, int in_fd, int out_fd);

// Rest (qmail-idle(8)), for a spawner with no child, no worker and no
// command half read: unless something waits on `in_fd` (0) or a child is
// left to reap, the process becomes HOME/bin/qmail-idle, which runs this
// same program file again once qmail-send writes. Returns if it did not:
// true to try again later, false when resting cannot work at all (no
// qmail-idle, the running file replaced since it started).
bool rest_if_quiet(int in_fd);

// Helper for run_child: prints `text` on fd 1 and exits with `code`.
[[noreturn]] void child_fail(std::string_view text, int code);

// Raises the soft descriptor limit to the hard one (each running delivery
// costs a pipe).
void raise_fd_limit();

}  // namespace qmail::spawn
