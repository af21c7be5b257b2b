// Maildir (maildir(5)): creating one, and delivering a message into one
// reliably: write tmp/<unique>, fsync and close it, link it to
// new/<unique>, fsync new/, and only then report success.
#pragma once

#include <sys/types.h>

#include <ctime>
#include <string>
#include <string_view>

#include "base/status.h"

namespace qmail::maildir {

// maildirmake(1): creates `dir` and its tmp, new and cur, mode 0700.
// Fails (temp) if `dir` already exists.
Status make(const std::string& dir);

// The host part of unique names: `host` with '/' written "\057" and ':'
// written "\072" (so it is a safe file name and never looks like
// ":info"); "localhost" if empty.
std::string safe_host(std::string_view host);

// A unique name "<sec>.M<usec>P<pid>Q<n>.<host>" (the maildir convention
// that replaced qmail's time.pid.host): distinct for distinct pid, and
// within one process for distinct `n`.
std::string unique_name(std::time_t sec, long usec, pid_t pid, unsigned n,
                        std::string_view safe_host);

// Delivers into the maildir `dir`: writes `prefix` (for qmail-local the
// Return-Path and Delivered-To lines) and then the message read with pread
// from `msgfd` (whole file from offset 0) to tmp/<unique>, fsyncs it,
// links it to new/<unique>, fsyncs new/, unlinks the tmp name. With
// `unnamed` (the default) the file in tmp/ has no name at all (O_TMPFILE)
// and is linked into new/ through /proc/self/fd, falling back to the
// named way where that cannot be done. A name collision picks a new name
// (bounded tries). Returns "new/<unique>". Errors are temp (with qmail's
// enhanced codes: #4.2.2 for a full disk or quota, #4.2.1 when the
// maildir is missing, #4.3.0 otherwise).
Result<std::string> deliver(const std::string& dir, std::string_view prefix, int msgfd,
                            bool unnamed = true);

}  // namespace qmail::maildir
