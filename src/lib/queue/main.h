// qmail-queue's main body (qmail-queue(8): message on fd 0, envelope on
// fd 1, exit code as documented), shared by the qmail-queue program and
// Submission's in-process run of it (queue/inject.h).
#pragma once

#include <sys/types.h>

#include <span>
#include <string>

namespace qmail::queue {

int queue_main(std::span<char*> args);

// qmail-queue's checks before it queues anything, for `uid` and `pid`:
// the home must be there (else qmail-queue's exit code 61 is returned);
// `received` gets its Received line. Returns 0 or the exit code.
int queue_prepare(uid_t uid, pid_t pid, std::string* received);

}  // namespace qmail::queue
