// run_program wraps every main: it names the program for logging, maps a
// Status to exit 0/100/111, and turns any stray exception (such as
// bad_alloc) into 111 so nothing escapes.
#pragma once

#include <span>
#include <string_view>

#include "base/status.h"

namespace qmail {

// Body returning Status: ok -> 0, perm -> 100, temp -> 111; a non-ok status
// is printed as "program: fatal: message" on fd 2.
using StatusMain = Status (*)(std::span<char*> args);
// Body returning its own exit code (for programs with special code tables,
// e.g. qmail-queue). `oom_code` is returned on a stray exception.
using IntMain = int (*)(std::span<char*> args);

int run_program(const char* name, int argc, char** argv, StatusMain body);
int run_program(const char* name, int argc, char** argv, IntMain body, int oom_code = 111);

}  // namespace qmail
