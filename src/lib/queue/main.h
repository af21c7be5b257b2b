// qmail-queue's main body (qmail-queue(8): message on fd 0, envelope on
// fd 1, exit code as documented), shared by the qmail-queue program and
// Submission's in-process run of it (queue/inject.h).
#pragma once

#include <span>

namespace qmail::queue {

int queue_main(std::span<char*> args);

}  // namespace qmail::queue
