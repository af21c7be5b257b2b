// forward: forward the message to the given addresses (forward(1)).
#include "local/forward.h"

#include <span>
#include <string>
#include <vector>

#include "base/run_program.h"
#include "local/helpers.h"

namespace {

qmail::Status body(std::span<char*> args) {
  if (args.size() < 2) return qmail::Status::perm("usage: forward address ...");
  // qmail-command(8): NEWSENDER is the sender for forwards; DTLINE keeps
  // loop detection working for the forwarded copy.
  QMAIL_ASSIGN_OR_RETURN(std::string sender, qmail::local::required_env("NEWSENDER"));
  QMAIL_ASSIGN_OR_RETURN(std::string dtline, qmail::local::required_env("DTLINE"));
  QMAIL_ASSIGN_OR_RETURN(qmail::Fd msg, qmail::local::message_on_stdin());
  std::vector<std::string> rcpts(args.begin() + 1, args.end());
  return qmail::local::forward(msg.get(), dtline, sender, rcpts).status();
}

}  // namespace

int main(int argc, char** argv) { return qmail::run_program("forward", argc, argv, body); }
