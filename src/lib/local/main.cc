#include "local/main.h"

#include <cstring>

#include "base/exit_codes.h"
#include "io/io.h"
#include "local/deliver.h"
#include "local/message.h"

namespace qmail::local {

namespace {

constexpr const char* kUsage =
    "usage: qmail-local [ -nN ] user homedir local dash ext domain sender defaultdelivery "
    "(#4.3.0)\n";

}  // namespace

int local_main(std::span<char*> args) {
  Request req;
  std::size_t i = 1;
  // qmail-local(8): options -n (print instructions) and -N (deliver).
  for (; i < args.size() && args[i][0] == '-' && args[i][1] != '\0'; ++i) {
    if (std::strcmp(args[i], "--") == 0) {
      ++i;
      break;
    }
    for (const char* p = args[i] + 1; *p != '\0'; ++p) {
      if (*p == 'n') {
        req.doit = false;
      } else if (*p == 'N') {
        req.doit = true;
      } else {
        (void)io::write_all(1, kUsage);
        return exitcode::kTemp;
      }
    }
  }
  if (args.size() - i != 8) {
    (void)io::write_all(1, kUsage);
    return exitcode::kTemp;
  }
  req.user = args[i];
  req.homedir = args[i + 1];
  req.local = args[i + 2];
  req.dash = args[i + 3];
  req.ext = args[i + 4];
  req.domain = args[i + 5];
  req.sender = args[i + 6];
  req.defaultdelivery = args[i + 7];
  if (!req.doit) return run(req, -1, 1);
  // qmail-local(8): the message must be seekable; a pipe is copied.
  auto msg = seekable_message(0);
  if (!msg.is_ok()) {
    (void)io::write_all(1, msg.status().message() + "\n");
    return exitcode::kTemp;
  }
  return run(req, msg->get(), 1);
}

}  // namespace qmail::local
