// qmail-local: deliver or forward a mail message (qmail-local(8)).
#include "base/run_program.h"
#include "local/main.h"
#include "spawn/builtin.h"

// Tells qmail-lspawn that this file is our qmail-local, whose code it may
// run without exec (spawn/builtin.h).
QMAIL_BUILTIN_MARK(QMAIL_BUILTIN_MARK_LOCAL);

int main(int argc, char** argv) {
  return qmail::run_program("qmail-local", argc, argv, qmail::local::local_main);
}
