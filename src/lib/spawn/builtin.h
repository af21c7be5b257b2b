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

#include <signal.h>
#include <sys/types.h>

#include <array>
#include <string>
#include <string_view>
#include <vector>

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

// For a program started by root that will run as a uid unable to read
// `path` (qmail-rspawn as qmailr and qmail-remote at mode 0711): root
// looks for the mark and hands over the file's identity (device, inode,
// size, times) as text; empty when `path` does not carry `mark`.
// token_names_file() later tells whether `path` is still that file.
inline constexpr const char* kRemoteMarkVar = "QMAILREMOTEMARKED";
std::string mark_token(const std::string& path, std::string_view mark);
bool token_names_file(const std::string& path, const char* token);

// What exec does to signals, for a child that runs a sibling's code
// instead: caught signals go back to their default action (ignored ones
// stay ignored), and none is blocked. Async-signal-safe.
void reset_signals_as_exec();

// What a reused child (a "worker": qmail-tcpsrv's qmail-smtpd children,
// qmail-lspawn's qmail-local ones) puts back between two uses, as it was
// when the snapshot was taken: descriptors 0 and 1 on /dev/null, every
// descriptor from 3 on but `keep` closed, the environment, the working
// directory, the umask, the actions of the signals our programs handle
// (HUP INT QUIT PIPE ALRM TERM CHLD IO USR1 USR2 XFSZ URG) and the mask;
// no alarm pending. A delivery or session can change any of those.
class WorkerState {
 public:
  explicit WorkerState(int keep);
  // Another descriptor that stays open from one use to the next (made
  // for the worker's own purposes, such as control::enable_cache()'s).
  void keep_too(int fd);
  // False if something could not be put back: the worker should exit.
  bool restore();

 private:
  std::vector<int> keep_;  // sorted
  std::vector<std::string> env_;
  // environ as it was: pointers into env_, then a null. Put back by
  // env::restore(), which also frees what the use set with env::set
  // (clearenv and one putenv per variable cost a scan of the environment
  // each, and setenv never frees).
  std::vector<char*> env_ptrs_;
  std::string cwd_;
  mode_t umask_;
  sigset_t mask_;
  // One per signal of the list in builtin.cc, in its order (not one per
  // signal number: 65 of them would be ten kilobytes to keep).
  static constexpr std::size_t kSignals = 12;
  std::array<struct sigaction, kSignals> actions_;
};

// execvp's search: `name` itself if it has a '/', else the first
// executable regular file of that name in $PATH. Empty if none.
std::string find_program(const std::string& name);

}  // namespace qmail::spawn
