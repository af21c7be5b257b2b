// config-fast(8): writes the minimal control files for a host name.
#include <string>
#include <vector>

#include "base/run_program.h"
#include "home/home.h"
#include "io/io.h"
#include "setup/setup.h"

namespace {

qmail::Status config_fast(std::span<char*> args) {
  if (args.size() != 2) return qmail::Status::perm("usage: config-fast fqdn");
  std::vector<std::string> report;
  qmail::Status s = qmail::setup::config_fast(qmail::home::dir(), args[1], &report);
  std::string out;
  for (const std::string& line : report) out += line + "\n";
  QMAIL_RETURN_IF_ERROR(qmail::io::write_all(1, out));
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  return qmail::run_program("config-fast", argc, argv, config_fast);
}
