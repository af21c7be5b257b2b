// qmail-local: deliver or forward a mail message (qmail-local(8)).
#include <cstring>
#include <span>

#include "base/exit_codes.h"
#include "base/run_program.h"
#include "io/io.h"
#include "local/deliver.h"
#include "local/message.h"

namespace {

constexpr const char* kUsage =
    "usage: qmail-local [ -nN ] user homedir local dash ext domain sender defaultdelivery "
    "(#4.3.0)\n";

int body(std::span<char*> args) {
  qmail::local::Request req;
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
        (void)qmail::io::write_all(1, kUsage);
        return qmail::exitcode::kTemp;
      }
    }
  }
  if (args.size() - i != 8) {
    (void)qmail::io::write_all(1, kUsage);
    return qmail::exitcode::kTemp;
  }
  req.user = args[i];
  req.homedir = args[i + 1];
  req.local = args[i + 2];
  req.dash = args[i + 3];
  req.ext = args[i + 4];
  req.domain = args[i + 5];
  req.sender = args[i + 6];
  req.defaultdelivery = args[i + 7];
  if (!req.doit) return qmail::local::run(req, -1, 1);
  // qmail-local(8): the message must be seekable; a pipe is copied.
  auto msg = qmail::local::seekable_message(0);
  if (!msg.is_ok()) {
    (void)qmail::io::write_all(1, msg.status().message() + "\n");
    return qmail::exitcode::kTemp;
  }
  return qmail::local::run(req, msg->get(), 1);
}

}  // namespace

int main(int argc, char** argv) { return qmail::run_program("qmail-local", argc, argv, body); }
