// qreceipt: answer delivery notice requests (qreceipt(1)).
#include <ctime>
#include <span>
#include <string>

#include "base/exit_codes.h"
#include "base/run_program.h"
#include "local/header.h"
#include "local/helpers.h"
#include "local/notify.h"
#include "queue/inject.h"

namespace {

qmail::Status body(std::span<char*> args) {
  if (args.size() != 2) return qmail::Status::perm("usage: qreceipt youraddress");
  const std::string address = args[1];
  QMAIL_ASSIGN_OR_RETURN(std::string sender, qmail::local::required_env("SENDER"));
  QMAIL_ASSIGN_OR_RETURN(qmail::Fd msg, qmail::local::message_on_stdin());
  QMAIL_ASSIGN_OR_RETURN(auto header, qmail::local::read_header(msg.get()));
  if (!qmail::local::receipt_requested(header, address)) return qmail::Status::ok();
  if (!qmail::local::receipt_allowed(sender, header)) return qmail::Status::ok();
  QMAIL_ASSIGN_OR_RETURN(qmail::queue::Submission qq, qmail::queue::Submission::start());
  // A failed put shows up in finish()'s exit code.
  (void)qq.put(qmail::local::receipt_message(address, sender, header, std::time(nullptr)));
  // The notice has an empty envelope sender, like a bounce: nothing may
  // answer it automatically.
  QMAIL_ASSIGN_OR_RETURN(int code, qq.finish("", {sender}));
  if (code == 0) return qmail::Status::ok();
  std::string why = std::string("unable to send notice: ") + qmail::queue_exit::describe(code);
  return qmail::queue_exit::is_perm(code) ? qmail::Status::perm(why) : qmail::Status::temp(why);
}

}  // namespace

int main(int argc, char** argv) { return qmail::run_program("qreceipt", argc, argv, body); }
