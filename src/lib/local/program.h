// Running programs for deliveries: qmail-command(8) for qmail-local's
// program lines, and the plain "run this argv" the filter helpers
// (condredirect, bouncesaying, except) need.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace qmail::local {

// Output of a program line kept for the report (qmail-lspawn logs it or
// puts it in the bounce); the rest is read and dropped.
inline constexpr std::size_t kMaxProgramOutput = 64 * 1024;

struct ProgramResult {
  bool exec_failed = false;  // could not be started (errno in exec_errno)
  int exec_errno = 0;
  bool signaled = false;  // killed by a signal (signal number in code)
  int code = 0;           // exit code, or the signal number
  std::string output;     // stdout and stderr together, bounded
};

// qmail-command(8): runs "/bin/sh -c command" in the current directory
// with the current environment, the message on fd 0 (`msgfd` rewound to
// offset 0), and fds 1 and 2 on a pipe whose first kMaxProgramOutput bytes
// are returned. Signals the child inherits are reset to default. Errors:
// temp when it cannot fork or make the pipe.
Result<ProgramResult> run_shell(const std::string& command, int msgfd);

// Runs argv[0] (searched in $PATH) with the given arguments, inheriting
// fds 0, 1 and 2, and waits for it. exec_failed is set when it could not
// be run. Errors: temp when it cannot fork.
Result<ProgramResult> run_argv(const std::vector<std::string>& argv);

// What a delivery program's exit code means (qmail-command(8)).
enum class Outcome { kSuccess, kSuccessSkipRest, kPerm, kTemp };
// 0 success; 99 success and skip the rest; 100, 64, 65, 70, 76, 77, 78 and
// 112 permanent; everything else (and any signal) temporary.
Outcome classify(const ProgramResult& r);

}  // namespace qmail::local
