// qbiff: announce new mail on the user's terminals (qbiff(1)).
#include <pwd.h>
#include <unistd.h>
#include <utmpx.h>

#include <cstdlib>
#include <cstring>
#include <span>
#include <string>

#include "base/exit_codes.h"
#include "base/run_program.h"
#include "local/header.h"
#include "local/helpers.h"
#include "local/notify.h"

namespace {

// How many utmp entries to look at (a bound on a corrupt utmp file).
constexpr int kMaxUtmpEntries = 100000;

int body(std::span<char*>) {
  // qbiff never fails a delivery: every problem just means no notice.
  const char* user = std::getenv("USER");
  std::string name;
  if (user != nullptr && *user != '\0') {
    name = user;
  } else if (const struct passwd* pw = ::getpwuid(::getuid())) {
    name = pw->pw_name;
  } else {
    return qmail::exitcode::kOk;
  }
  const char* sender = std::getenv("SENDER");
  // The message may come on a pipe (`qbiff < message` or `cat | qbiff`),
  // not only on the seekable file qmail-local gives.
  auto msg = qmail::local::message_on_stdin();
  if (!msg.is_ok()) return qmail::exitcode::kOk;
  auto header = qmail::local::read_header(msg->get());
  if (!header.is_ok()) return qmail::exitcode::kOk;
  const std::string notice = qmail::local::biff_notice(sender ? sender : "", *header);
  ::setutxent();
  int seen = 0;
  while (const struct utmpx* u = ::getutxent()) {
    if (++seen > kMaxUtmpEntries) break;
    if (u->ut_type != USER_PROCESS) continue;
    std::string uname(u->ut_user, ::strnlen(u->ut_user, sizeof u->ut_user));
    std::string line(u->ut_line, ::strnlen(u->ut_line, sizeof u->ut_line));
    if (uname != name || line.empty() || line.find("..") != std::string::npos) continue;
    (void)qmail::local::notify_tty("/dev/" + line, ::getuid(), notice);
  }
  ::endutxent();
  return qmail::exitcode::kOk;
}

}  // namespace

int main(int argc, char** argv) { return qmail::run_program("qbiff", argc, argv, body); }
