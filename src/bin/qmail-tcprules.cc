// qmail-tcprules: compile tcprules(1)-format rules from stdin into a cdb
// for qmail-tcpsrv -x. See qmail-tcprules(8).
#include <span>
#include <string>

#include "base/run_program.h"
#include "base/status.h"
#include "io/io.h"
#include "tcprules/rules.h"

namespace {

// A rules file bigger than this is a mistake, not a configuration.
constexpr std::size_t kMaxRulesFile = 64 * 1024 * 1024;

qmail::Status body(std::span<char*> args) {
  if (args.size() != 3) return qmail::Status::perm("usage: qmail-tcprules rules.cdb rules.tmp");
  QMAIL_ASSIGN_OR_RETURN(std::string text, qmail::io::read_all(0, kMaxRulesFile));
  QMAIL_ASSIGN_OR_RETURN(std::vector<qmail::tcprules::Rule> rules, qmail::tcprules::parse(text));
  return qmail::tcprules::write_cdb(rules, args[1], args[2]);
}

}  // namespace

int main(int argc, char** argv) { return qmail::run_program("qmail-tcprules", argc, argv, body); }
