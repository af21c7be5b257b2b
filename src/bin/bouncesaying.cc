// bouncesaying: bounce the message, perhaps only if a program says so
// (bouncesaying(1)).
#include <span>
#include <string>
#include <vector>

#include "base/exit_codes.h"
#include "base/log.h"
#include "base/run_program.h"
#include "io/io.h"
#include "local/program.h"

namespace {

int bounce(const char* error) {
  // The text goes to qmail-local's report, and so into the bounce.
  (void)qmail::io::write_all(1, std::string(error) + "\n");
  return qmail::exitcode::kPerm;
}

int body(std::span<char*> args) {
  if (args.size() < 2) {
    qmail::log::fatal("usage: bouncesaying error [ program [ arg ... ] ]");
    return qmail::exitcode::kPerm;
  }
  if (args.size() == 2) return bounce(args[1]);
  auto r = qmail::local::run_argv(std::vector<std::string>(args.begin() + 2, args.end()));
  if (!r.is_ok()) {
    qmail::log::fatal(r.status().message());
    return qmail::exitcode::kTemp;
  }
  if (r->signaled) {
    qmail::log::fatal("program crashed");
    return qmail::exitcode::kTemp;
  }
  if (r->exec_failed) return qmail::exitcode::kOk;
  if (r->code == 0) return bounce(args[1]);
  if (r->code == qmail::exitcode::kTemp) return qmail::exitcode::kTemp;
  return qmail::exitcode::kOk;
}

}  // namespace

int main(int argc, char** argv) { return qmail::run_program("bouncesaying", argc, argv, body); }
