// Forwarding a delivered message through qmail-queue: one qmail-queue run
// for all recipients, the message prefixed by the Delivered-To line
// (dot-qmail(5): qmail-local omits Return-Path when forwarding).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace qmail::local {

// Queues `prefix` followed by the message at `msgfd` (pread, whole file)
// with envelope sender `sender` to `recipients`. Errors: perm or temp as
// qmail-queue's exit code says (qmail-queue(8)), with the text
// "Unable to forward message: <why>". Returns the pid of the qmail-queue
// that took the message (its "qp", which qmail-send logs with the new
// message).
Result<long> forward(int msgfd, std::string_view prefix, std::string_view sender,
                     const std::vector<std::string>& recipients);

}  // namespace qmail::local
