// except: run a program and reverse its exit code (except(1)).
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "base/exit_codes.h"
#include "base/log.h"
#include "base/run_program.h"
#include "local/program.h"

namespace {

int body(std::span<char*> args) {
  if (args.size() < 2) {
    qmail::log::fatal("usage: except program [ arg ... ]");
    return qmail::exitcode::kPerm;
  }
  auto r = qmail::local::run_argv(std::vector<std::string>(args.begin() + 1, args.end()));
  if (!r.is_ok()) {
    qmail::log::fatal(r.status().message());
    return qmail::exitcode::kTemp;
  }
  if (r->exec_failed) {
    qmail::log::fatal(std::string("unable to run ") + args[1] + ": " +
                      std::strerror(r->exec_errno));
    return qmail::exitcode::kTemp;
  }
  if (r->signaled) {
    qmail::log::fatal("program crashed");
    return qmail::exitcode::kTemp;
  }
  if (r->code == 0) return qmail::exitcode::kPerm;
  if (r->code == qmail::exitcode::kTemp) return qmail::exitcode::kTemp;
  return qmail::exitcode::kOk;
}

}  // namespace

int main(int argc, char** argv) { return qmail::run_program("except", argc, argv, body); }
