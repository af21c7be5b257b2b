// splogger(8): reads log lines on stdin and feeds them to syslog with
// `tag` (default splogger) and facility `fac` (a number, default 2: mail).
#include "splogger/splogger.h"

#include <sys/time.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "base/run_program.h"

namespace {

int splogger_main(std::span<char*> args) {
  // openlog keeps the pointer: the tag must outlive every syslog call.
  static std::string tag;
  tag = args.size() > 1 && args[1] ? args[1] : "splogger";
  int facility = LOG_MAIL;
  if (args.size() > 2 && args[2]) {
    // As qmail's splogger: the leading digits, shifted into place.
    unsigned long fac = 0;
    for (const char* p = args[2]; *p >= '0' && *p <= '9' && fac < 1000; ++p)
      fac = fac * 10 + static_cast<unsigned long>(*p - '0');
    facility = static_cast<int>(fac << 3);
  }
  ::openlog(tag.c_str(), 0, facility);
  qmail::splogger::Folder folder([] {
    struct timeval tv;
    ::gettimeofday(&tv, nullptr);
    return qmail::splogger::format_stamp(tv.tv_sec, tv.tv_usec);
  });
  std::vector<qmail::splogger::Entry> entries;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    folder.feed(std::string_view(buf, static_cast<std::size_t>(n)), entries);
    for (const auto& e : entries) ::syslog(e.priority, "%s", e.text.c_str());
    entries.clear();
  }
  folder.finish(entries);
  for (const auto& e : entries) ::syslog(e.priority, "%s", e.text.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return qmail::run_program("splogger", argc, argv, splogger_main);
}
