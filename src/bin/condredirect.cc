// condredirect: forward the message to another address if a program says
// so (condredirect(1)).
#include <span>
#include <string>
#include <vector>

#include "base/exit_codes.h"
#include "base/log.h"
#include "base/run_program.h"
#include "local/forward.h"
#include "local/helpers.h"
#include "local/program.h"

namespace {

int fail(const qmail::Status& s) {
  qmail::log::fatal(s.message());
  return s.is_perm() ? qmail::exitcode::kPerm : qmail::exitcode::kTemp;
}

int body(std::span<char*> args) {
  if (args.size() < 3) {
    return fail(qmail::Status::perm("usage: condredirect newaddress program [ arg ... ]"));
  }
  auto sender = qmail::local::required_env("NEWSENDER");
  if (!sender.is_ok()) return fail(sender.status());
  auto dtline = qmail::local::required_env("DTLINE");
  if (!dtline.is_ok()) return fail(dtline.status());
  auto msg = qmail::local::message_on_stdin();
  if (!msg.is_ok()) return fail(msg.status());
  auto r = qmail::local::run_argv(std::vector<std::string>(args.begin() + 2, args.end()));
  if (!r.is_ok()) return fail(r.status());
  if (r->signaled) return fail(qmail::Status::temp("program crashed"));
  // condredirect(1): a program that does not exist, or exits anything but
  // 0 or 111, means "deliver as usual".
  if (r->exec_failed || (r->code != 0 && r->code != qmail::exitcode::kTemp)) {
    return qmail::exitcode::kOk;
  }
  if (r->code == qmail::exitcode::kTemp) return qmail::exitcode::kTemp;
  auto qp = qmail::local::forward(msg->get(), *dtline, *sender, {args[1]});
  if (!qp.is_ok()) return fail(qp.status());
  return qmail::exitcode::kSkipRest;
}

}  // namespace

int main(int argc, char** argv) { return qmail::run_program("condredirect", argc, argv, body); }
