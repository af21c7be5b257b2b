// maildir2mbox(1): moving mail from a maildir to an mbox file, reliably.
#pragma once

#include <string>

#include "base/status.h"

namespace qmail::maildir {

// maildir(5): readers may remove a tmp file not accessed for 36 hours.
inline constexpr long kTmpMaxAgeSeconds = 36 * 60 * 60;

// Moves every message in `maildir`/new and `maildir`/cur (names starting
// with '.' skipped), oldest first by modification time, to the end of the
// mbox `mail`: copies `mail` to `mailtmp` (same file system), appends each
// message in mbox(5) form (From_ line from its Return-Path and mtime,
// >From quoting, blank line), fsyncs, renames `mailtmp` over `mail`, fsyncs
// the directory, and only then removes the messages. `mail` is locked
// meanwhile. Also removes tmp files older than kTmpMaxAgeSeconds. Returns
// the number of messages moved. Errors: temp.
Result<std::size_t> to_mbox(const std::string& maildir, const std::string& mail,
                            const std::string& mailtmp);

}  // namespace qmail::maildir
