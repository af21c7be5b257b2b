#include "local/forward.h"

#include "base/exit_codes.h"
#include "local/message.h"
#include "queue/inject.h"

namespace qmail::local {

Result<long> forward(int msgfd, std::string_view prefix, std::string_view sender,
                     const std::vector<std::string>& recipients) {
  auto started = queue::Submission::start();
  if (!started.is_ok()) {
    return Status::temp("Unable to forward message: " + started.status().message() + " (#4.3.0)");
  }
  queue::Submission& qq = started.value();
  const long qp = static_cast<long>(qq.pid());
  // A failed put means qmail-queue went away; finish() says why. A failed
  // read of the message abandons the run (nothing is queued).
  bool put_failed = false;
  auto put = [&](std::string_view c) {
    Status p = qq.put(c);
    if (!p.is_ok()) put_failed = true;
    return p;
  };
  Status s = put(prefix);
  if (s.is_ok()) s = for_each_chunk(msgfd, put);
  if (!s.is_ok() && !put_failed) return Result<long>(s);
  auto code = qq.finish(sender, recipients);
  if (!code.is_ok()) {
    return Status::temp("Unable to forward message: " + code.status().message() + " (#4.3.0)");
  }
  if (*code == queue_exit::kOk) return qp;
  return qq.refusal(*code).status("Unable to forward message: ");
}

}  // namespace qmail::local
