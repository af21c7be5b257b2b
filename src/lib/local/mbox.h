// Appending a message to an mbox file (mbox(5), dot-qmail(5)).
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace qmail::mbox {

// How long to wait for another program's lock before deferring (qmail has
// no limit; a reader holding a lock forever must not hold mail forever).
inline constexpr unsigned kLockTimeoutSeconds = 30 * 60;

// Appends to the mbox file `path` (created mode 0600 if missing): the
// `ufline` From_ line, `prefix` (Return-Path and Delivered-To lines), the
// message from `msgfd` (pread from offset 0) with >From quoting, and a
// final blank line (two newlines if the message ended in a partial line).
// Holds an fcntl and a flock lock on the file meanwhile; fsyncs before
// returning. On a write error it truncates the file back to its old
// length. Errors: temp.
Status deliver(const std::string& path, std::string_view ufline, std::string_view prefix,
               int msgfd);

// Locks `fd` (fcntl write lock on the whole file, then flock LOCK_EX),
// waiting at most `seconds`. Errors: temp.
Status lock(int fd, unsigned seconds);

}  // namespace qmail::mbox
