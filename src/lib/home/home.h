// Where the qmail home is, and reading its control files
// (qmail-control(5)).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace qmail::cdb {
class Reader;
}

namespace qmail::home {

// The home: $QMAILHOME when set and the process is neither setuid nor
// setgid; else HOME when the running program is HOME/bin/NAME and HOME has
// queue/ and control/ (so every home's programs, the setuid qmail-queue
// included, work in their own home); else the compiled-in default (CMake
// QMAIL_HOME, default /var/qmail).
const std::string& dir();
// dir() + "/" + rel.
std::string path(std::string_view rel);
// HOME if the running executable is HOME/bin/NAME in a qmail home, else "".
std::string home_of_executable();
// The compiled-in default.
const char* compiled_default();
// Is this process running setuid or setgid (so the environment is
// untrusted)?
bool is_setugid();

}  // namespace qmail::home

namespace qmail::control {

// Control files are at most this long (a generous bound; qmail has none).
inline constexpr std::size_t kMaxControlFile = 64 * 1024 * 1024;

// qmail-control(5): the first line of control/`name`, with trailing spaces,
// tabs and CR removed; nullopt if the file does not exist. Errors: temp
// when the file exists but cannot be read.
Result<std::optional<std::string>> read_line(std::string_view name);
// The same with a default for a missing (or empty) file.
Result<std::string> read_line_or(std::string_view name, std::string_view def);
// All lines, trailing whitespace stripped, empty lines and lines starting
// with '#' skipped; an empty vector if missing.
Result<std::vector<std::string>> read_lines(std::string_view name);
// The same, but nullopt if the file does not exist (one read, where
// "missing" and "empty" mean different things).
Result<std::optional<std::vector<std::string>>> read_lines_if_any(std::string_view name);
// A number; `def` if missing. Errors: perm-ish temp "bad number" (a broken
// control file is an admin error: retrying after the fix helps, so temp).
Result<std::uint64_t> read_uint(std::string_view name, std::uint64_t def);
// control/me; nullopt if missing (me has no default).
Result<std::optional<std::string>> me();
// The value of `name`, defaulting to control/me, then to `fallback`.
Result<std::string> read_line_or_me(std::string_view name, std::string_view fallback);

// The cdb control/<name>, mapped (nullptr when it does not exist); kept
// like the files above while the cache is on. Errors as cdb::Reader::open.
Result<std::shared_ptr<const cdb::Reader>> read_cdb(std::string_view name);

// A process that reads the same control files again and again (a reused
// qmail-smtpd worker: about fifteen system calls per connection) may keep
// them in memory. enable_cache() watches control/ with inotify and turns
// the cache on; from then on the functions above take a file (or its
// absence) from memory once read, until revalidate_cache() finds that
// anything in control/ was created, written, removed, renamed or changed
// its mode. A control file that is a symbolic link is never kept (a change
// of its target would not be seen). Returns the inotify descriptor, which
// the caller must keep open (close-on-exec), or -1 when inotify is not
// available: then nothing is cached.
int enable_cache();
// Drops what was kept if control/ changed since the last call (one
// non-blocking read). Call before each use that must see current files.
void revalidate_cache();
// A number that stays the same only while nothing kept was dropped: what
// a caller built from control files (a TLS context, say) may be used
// again while it has not changed. Without a cache it changes at every
// call.
std::uint64_t cache_generation();

}  // namespace qmail::control

namespace qmail::home {

// The uids and gids the home's programs run under. qmail-setup writes
// users/ids (lines "name:uid:gid"); in an unprivileged home every entry is
// the installing user. Missing entries fall back to getpwnam/getgrnam of
// qmail's names, then (when not root) to the current uid/gid.
struct Ids {
  uid_t alias, qmaild, qmaill, qmailp, qmailq, qmailr, qmails, root;
  gid_t qmail, nofiles;
  bool single_user;  // every program runs as one user (unprivileged home)
};
Result<Ids> load_ids();

}  // namespace qmail::home
