// Running a sibling's code in the spawner's forked child instead of
// exec'ing it. An exec costs about 0.4 ms of CPU here before main() runs
// (the kernel's exec, the dynamic loader's CPU probing, relocations), per
// delivery. qmail-lspawn (and qmail-rspawn) call the delivery code of
// qmail-local (qmail-remote) directly when HOME/bin/qmail-local is our own
// program; anything else there (a wrapper script, a patched or test
// program) is exec'd as before. qmail-tcpsrv does the same for
// qmail-smtpd (net/tcpsrv.h). "Our own" = the file carries the mark
// below, which only our qmail-local (qmail-remote) embeds.
#pragma once

#include <string>
#include <string_view>

// The marks, as macros so a program can embed them as a kept array.
#define QMAIL_BUILTIN_MARK_LOCAL "\x7fqmail-builtin:qmail-local:1\x7f"
#define QMAIL_BUILTIN_MARK_REMOTE "\x7fqmail-builtin:qmail-remote:1\x7f"
#define QMAIL_BUILTIN_MARK_SMTPD "\x7fqmail-builtin:qmail-smtpd:1\x7f"

namespace qmail::spawn {

// Whether the regular file at `path` contains `mark` (read once, up to
// 64 MB). False on any error: exec is the safe fallback.
bool carries_mark(const std::string& path, std::string_view mark);

// execvp's search: `name` itself if it has a '/', else the first
// executable regular file of that name in $PATH. Empty if none.
std::string find_program(const std::string& name);

}  // namespace qmail::spawn
