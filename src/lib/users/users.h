// qmail-users(5): the assign table, compiled by qmail-newu from
// users/assign into users/cdb, and consulted by qmail-lspawn for every
// local delivery before it falls back to qmail-getpw.
//
// users/cdb format (ours; written only by write_cdb):
//   key "=" + local      exact entry (=local:user:uid:gid:homedir:dash:ext:)
//   key "+" + prefix     wildcard entry (+prefix:user:uid:gid:homedir:dash:pre:)
//   key "" (empty)       always present: the distinct lengths of the wildcard
//                        prefixes, decimal, longest first, each followed by
//                        ','; lookup probes only those lengths
//   value user\0uid\0gid\0homedir\0dash\0ext\0  (uid/gid decimal)
// `local` and `prefix` are stored lower-cased as qmail-lspawn matches them.
// When assign names the same key twice the first line wins (qmail-users(5)).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace qmail::users {

// users/assign is read whole; this bounds it (qmail has no limit; a
// million users at ~60 bytes a line fit easily).
inline constexpr std::size_t kMaxAssign = 256 * 1024 * 1024;

struct Entry {
  std::string user;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string homedir;
  std::string dash;
  // For an exact entry: its ext. For a wildcard match: the entry's
  // "pre" followed by the rest of the local part after the prefix (in the
  // case it was given, as qmail-lspawn passes it on).
  std::string ext;

  bool operator==(const Entry&) const = default;
};

// Looks `local` up in the cdb at `cdb_path` as qmail-lspawn does: an exact
// entry first, then the longest matching wildcard prefix; `local` is
// matched without regard to case. nullopt when the cdb exists and nothing
// matches. Errors: temp when the cdb cannot be read or is corrupt (ENOENT
// is reported with err() == ENOENT so callers can fall back to
// qmail-getpw).
Result<std::optional<Entry>> lookup(const std::string& cdb_path, std::string_view local);

// One line of users/assign parsed (qmail-users(5)).
struct AssignLine {
  bool wildcard = false;  // '+' line
  std::string address;    // local (for '=') or prefix (for '+'), as written
  Entry entry;            // entry.ext is ext (=) or pre (+)

  bool operator==(const AssignLine&) const = default;
};

// Parses users/assign text: lines "=local:user:uid:gid:homedir:dash:ext:" or
// "+prefix:user:uid:gid:homedir:dash:pre:", ending with a line that begins
// with "." (anything after it is ignored, as qmail-newu does). Text after
// the seventh ':' of a line is ignored. Stricter than qmail-newu: uid and
// gid must be decimal numbers and homedir must be absolute.
// Errors: perm "line N: reason" on a malformed line or a missing ".".
Result<std::vector<AssignLine>> parse_assign(std::string_view text);

// One assignment as a users/assign line (without the newline).
std::string format_assign(const AssignLine& line);

// Writes users/cdb from parsed lines atomically: `cdb_path`.tmp, fsync,
// rename over `cdb_path`, fsync the directory, so a reader sees either the
// old or the new table, never a partial one. Mode 0644. Errors: temp.
Status write_cdb(const std::string& cdb_path, const std::vector<AssignLine>& lines);

// qmail-newu(8) for the home at `home_dir`: users/assign -> users/cdb. On
// a bad assign file (perm) or any I/O trouble (temp) users/cdb is left
// alone.
Status newu(const std::string& home_dir);

}  // namespace qmail::users
