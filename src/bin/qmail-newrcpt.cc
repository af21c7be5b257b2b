// qmail-newrcpt(8): compiles what this home can deliver into
// HOME/control/recipients.cdb for qmail-smtpd's recipient validation.
#include <span>

#include "base/log.h"
#include "base/run_program.h"
#include "home/home.h"
#include "rcptdb/rcptdb.h"

namespace {
qmail::Status newrcpt(std::span<char*> args) {
  if (args.size() > 1) return qmail::Status::perm("usage: qmail-newrcpt");
  QMAIL_ASSIGN_OR_RETURN(qmail::rcptdb::Report r, qmail::rcptdb::build(qmail::home::dir()));
  for (const auto& w : r.warnings) qmail::log::warn(w);
  return qmail::Status::ok();
}
}  // namespace

int main(int argc, char** argv) { return qmail::run_program("qmail-newrcpt", argc, argv, newrcpt); }
