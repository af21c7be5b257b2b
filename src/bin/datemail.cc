// datemail(1): sendmail with a Date field in local time; runs
// "HOME/bin/predate HOME/bin/sendmail args...".
#include <unistd.h>

#include <string>
#include <vector>

#include "base/exit_codes.h"
#include "base/log.h"
#include "base/run_program.h"
#include "home/home.h"

namespace {

int datemail_main(std::span<char*> args) {
  std::string predate = qmail::home::path("bin/predate");
  std::string sendmail = qmail::home::path("bin/sendmail");
  std::vector<char*> argv{predate.data(), sendmail.data()};
  for (std::size_t i = 1; i < args.size() && args[i]; ++i) argv.push_back(args[i]);
  argv.push_back(nullptr);
  ::execv(predate.c_str(), argv.data());
  qmail::log::fatal("unable to run predate");
  return qmail::exitcode::kTemp;
}

}  // namespace

int main(int argc, char** argv) {
  return qmail::run_program("datemail", argc, argv, datemail_main);
}
