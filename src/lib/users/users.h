// qmail-users(5): the assign table, compiled by qmail-newu from
// users/assign into users/cdb, and consulted by qmail-lspawn for every
// local delivery before it falls back to qmail-getpw.
//
// users/cdb format (ours; written only by qmail-newu):
//   key "=" + local            exact entry (=local:user:uid:gid:homedir:dash:ext:)
//   key "+" + prefix           wildcard entry (+prefix:user:uid:gid:homedir:dash:prepend:)
//   key "" (empty)             present with value "1" if any wildcard exists
//   value user\0uid\0gid\0homedir\0dash\0ext\0  (uid/gid decimal)
// `local` and `prefix` are stored lower-cased as qmail-lspawn matches them.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace qmail::users {

struct Entry {
  std::string user;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string homedir;
  std::string dash;
  // For an exact entry: its ext. For a wildcard match: the entry's
  // "prepend" followed by the rest of the local part after the prefix.
  std::string ext;
};

// Looks `local` up in the cdb at `cdb_path` as qmail-lspawn does: an exact
// entry first, then the longest matching wildcard prefix. nullopt when the
// cdb exists and nothing matches. Errors: temp when the cdb cannot be read
// (ENOENT is reported with err() == ENOENT so callers can fall back to
// qmail-getpw).
Result<std::optional<Entry>> lookup(const std::string& cdb_path, std::string_view local);

// One line of users/assign parsed (qmail-users(5)).
struct AssignLine {
  bool wildcard = false;  // '+' line
  std::string address;    // local (for '=') or prefix (for '+')
  Entry entry;            // entry.ext is ext (=) or prepend (+)
};
// Parses users/assign text ending with a line containing just ".".
// Errors: perm with the line number on a malformed line or a missing ".".
Result<std::vector<AssignLine>> parse_assign(std::string_view text);

// Writes users/cdb (atomically: temporary file, fsync, rename, fsync dir).
Status write_cdb(const std::string& cdb_path, const std::vector<AssignLine>& lines);

}  // namespace qmail::users
