// The event loop shared by qmail-lspawn and qmail-rspawn: read delivery
// commands (spawn/protocol.h) from fd 0, run one child per delivery at
// once (qmail-send bounds the concurrency), and print each result to fd 1
// as soon as its child has exited, in whatever order they finish.
#pragma once

#include <string_view>

#include "base/status.h"
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
};

// Serves until `in_fd` reaches EOF and every child has been reported.
// SIGTERM is ignored: the spawner leaves when qmail-send closes its
// command pipe, so deliveries under way are always reported.
// Errors: temp when qmail-send's pipes fail; perm on a malformed command.
Status serve(Job& job, int in_fd, int out_fd);

// Helper for run_child: prints `text` on fd 1 and exits with `code`.
[[noreturn]] void child_fail(std::string_view text, int code);

// Raises the soft descriptor limit to the hard one (each running delivery
// costs a pipe).
void raise_fd_limit();

}  // namespace qmail::spawn
