// qmail-smtpd(8): receives mail via SMTP on fd 0/1 under tcpserver.
#include "base/run_program.h"
#include "smtp/main.h"
#include "spawn/builtin.h"

// Tells qmail-tcpsrv that this file is our qmail-smtpd, whose code it may
// run without exec (spawn/builtin.h).
QMAIL_BUILTIN_MARK(QMAIL_BUILTIN_MARK_SMTPD);

int main(int argc, char** argv) {
  return qmail::run_program("qmail-smtpd", argc, argv, qmail::smtp::smtpd_main);
}
