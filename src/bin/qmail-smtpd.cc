// qmail-smtpd(8): receives mail via SMTP on fd 0/1 under tcpserver.
#include "base/run_program.h"
#include "io/io.h"
#include "smtp/session.h"

namespace {
qmail::Status smtpd(std::span<char*>) {
  auto config = qmail::smtp::load_config();
  if (!config.is_ok()) {
    // qmail-smtpd(8): the client hears a temporary failure.
    (void)qmail::io::write_all(1, "421 4.3.0 unable to read controls (#4.3.0)\r\n");
    return config.status();
  }
  return qmail::smtp::serve(*config, 0, 1);
}
}  // namespace

int main(int argc, char** argv) { return qmail::run_program("qmail-smtpd", argc, argv, smtpd); }
