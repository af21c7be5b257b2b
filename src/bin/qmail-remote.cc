// qmail-remote: send mail via SMTP. See man/qmail-remote.8.
#include <unistd.h>

#include "base/run_program.h"
#include "remote/remote.h"
#include "spawn/builtin.h"

// Tells qmail-rspawn that this file is our qmail-remote, whose code it may
// run without exec (spawn/builtin.h).
QMAIL_BUILTIN_MARK(QMAIL_BUILTIN_MARK_REMOTE);

int main(int argc, char** argv) {
  return qmail::run_program("qmail-remote", argc, argv, qmail::remote::remote_main);
}
