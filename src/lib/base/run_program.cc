#include "base/run_program.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <exception>

#include "base/exit_codes.h"
#include "base/log.h"

#if defined(__SANITIZE_ADDRESS__)
// Sanitizer builds only: LeakSanitizer cannot stop the threads of a setuid
// (non-dumpable) process, such as qmail-queue in a root home, and cannot
// read its options there either; the rest of ASan still checks it.
extern "C" int __lsan_is_turned_off() {
  return ::getuid() != ::geteuid() || ::getgid() != ::getegid();
}
#endif

namespace qmail {

namespace {
void common_setup(const char* name) {
  // A program started with descriptor 0, 1 or 2 closed would hand that
  // number to the next file it opens, and then read its input from it or
  // write its log lines into it: those get /dev/null instead.
  // (open takes the lowest free number: the lower ones are open by then.)
  for (int fd = 0; fd <= 2; ++fd)
    if (::fcntl(fd, F_GETFD) == -1 && errno == EBADF) (void)::open("/dev/null", O_RDWR);
  log::set_program(name);
  // A closed pipe is a write error we report, not a silent death.
  ::signal(SIGPIPE, SIG_IGN);
}
}  // namespace

int run_program(const char* name, int argc, char** argv, StatusMain body) {
  common_setup(name);
  try {
    Status s = body(std::span<char*>(argv, static_cast<std::size_t>(argc)));
    if (s.is_ok()) return exitcode::kOk;
    log::fatal(s.message());
    return s.is_perm() ? exitcode::kPerm : exitcode::kTemp;
  } catch (const std::exception& e) {
    log::fatal(std::string("unexpected: ") + e.what());
    return exitcode::kTemp;
  } catch (...) {
    log::fatal("unexpected exception");
    return exitcode::kTemp;
  }
}

int run_program(const char* name, int argc, char** argv, IntMain body, int oom_code) {
  common_setup(name);
  try {
    return body(std::span<char*>(argv, static_cast<std::size_t>(argc)));
  } catch (const std::exception& e) {
    log::fatal(std::string("unexpected: ") + e.what());
    return oom_code;
  } catch (...) {
    log::fatal("unexpected exception");
    return oom_code;
  }
}

}  // namespace qmail
