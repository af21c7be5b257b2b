// qmail-queue: queue a mail message for delivery (qmail-queue(8)).
#include "base/exit_codes.h"
#include "base/run_program.h"
#include "queue/main.h"
#include "spawn/builtin.h"

// Tells queue::Submission that this file is our qmail-queue, whose code it
// may run without exec when the file is not set-id (spawn/builtin.h).
QMAIL_BUILTIN_MARK(QMAIL_BUILTIN_MARK_QUEUE);

int main(int argc, char** argv) {
  return qmail::run_program("qmail-queue", argc, argv, qmail::queue::queue_main,
                            qmail::queue_exit::kOutOfMemory);
}
