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

// The marks, as macros so a program can embed them as a kept array in
// the section QMAIL_BUILTIN_SECTION (QMAIL_BUILTIN_MARK below).
#define QMAIL_BUILTIN_MARK_LOCAL "\x7fqmail-builtin:qmail-local:1\x7f"
#define QMAIL_BUILTIN_MARK_REMOTE "\x7fqmail-builtin:qmail-remote:1\x7f"
#define QMAIL_BUILTIN_MARK_SMTPD "\x7fqmail-builtin:qmail-smtpd:1\x7f"
#define QMAIL_BUILTIN_MARK_QUEUE "\x7fqmail-builtin:qmail-queue:1\x7f"
#define QMAIL_BUILTIN_SECTION ".qmail_builtin"
// In a program's main file: QMAIL_BUILTIN_MARK(QMAIL_BUILTIN_MARK_LOCAL);
#define QMAIL_BUILTIN_MARK(m) \
  [[gnu::used, gnu::retain,   \
    gnu::section(QMAIL_BUILTIN_SECTION)]] static const char kBuiltinMark[] = m

namespace qmail::spawn {

// Whether the ELF file at `path` has `mark` in its QMAIL_BUILTIN_SECTION
// section (a few small reads). False on any error or anything else: exec
// is the safe fallback.
bool carries_mark(const std::string& path, std::string_view mark);

// What exec does to signals, for a child that runs a sibling's code
// instead: caught signals go back to their default action (ignored ones
// stay ignored), and none is blocked. Async-signal-safe.
void reset_signals_as_exec();

// execvp's search: `name` itself if it has a '/', else the first
// executable regular file of that name in $PATH. Empty if none.
std::string find_program(const std::string& name);

}  // namespace qmail::spawn
