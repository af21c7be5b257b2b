// qmail-newrcpt(8): which recipient addresses this home can deliver, as
// qmail-send, qmail-lspawn and qmail-local would decide, compiled into
// control/recipients.cdb for qmail-smtpd's recipient validation (the key
// format is smtp::Recipients' in smtp/policy.h: "box@domain", "box-@domain"
// for every "box-anything", "@domain" for anything at domain).
//
// Errors in one direction only: an address that would bounce may be
// listed (qmail-local then bounces it, as without validation), but a
// deliverable one must never be missing. So whatever cannot be read or
// represented widens the set.
#pragma once

#include <cstddef>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace qmail::rcptdb {

// Local parts (after virtualdomains' prepending) that reach a mailbox:
// `exact` names, and `wild` prefixes that are "" or end in '-' (every
// local part starting with one is deliverable).
struct Names {
  std::set<std::string> exact;
  std::set<std::string> wild;
};

// The form a wildcard can take in the cdb: "" or ending in '-'; anything
// else is cut back to its last '-' (wider, never narrower).
std::string representable(std::string_view prefix);

// The .qmail files of a home as extensions in address form: for each name
// ".qmail" + dash + S, S lower-cased with ':' turned back into '.'
// (dot-qmail(5)). Empty S is skipped (".qmail" itself serves the empty
// extension, which is always deliverable).
std::vector<std::string> extensions(const std::vector<std::string>& file_names,
                                    std::string_view dash);

// Would qmail-local find a .qmail file for `ext`? (Empty ext: yes, the
// default delivery.) It tries ".qmail-EXT", then for each '-' from the
// right ".qmail-PREFIX-default", then ".qmail-default" (qmail-local(8)).
bool ext_deliverable(std::string_view ext, const std::set<std::string>& exts);

// Adds what one qmail-users(5) entry makes deliverable: an exact entry
// (address, ext) or a wildcard one (prefix `address`, pre `ext`: local
// part address+R has extension ext+R). `exts` are the home's extensions,
// or nullopt when the home cannot be read (then all of the entry's
// addresses count).
void add_entry(Names& out, std::string_view address, bool wildcard, std::string_view ext,
               const std::optional<std::set<std::string>>& exts);

// The cdb keys for `names` at `domain`: a local domain (prepend empty) or a
// virtual one where local part L is delivered as "prepend-L". Exact names
// ending in '-' are left out: as keys they would mean "box-anything".
void add_domain_keys(std::set<std::string>& keys, const Names& names, std::string_view domain,
                     std::string_view prepend);
// One virtualdomains "user@domain:prepend" entry: its key if "prepend-user"
// is deliverable.
void add_address_key(std::set<std::string>& keys, const Names& names, std::string_view user,
                     std::string_view domain, std::string_view prepend);

// control/recipients: one address per line ('#' comments, blanks and
// trailing spaces skipped), taken as cdb keys in lower case; "box" without
// '@' means box at every domain of `local_domains`. Lines with control
// characters, spaces inside or longer than kMaxAddress are skipped and
// reported in `bad` (line numbers).
inline constexpr std::size_t kMaxAddress = 1000;
std::vector<std::string> parse_extra(std::string_view text,
                                     const std::vector<std::string>& local_domains,
                                     std::vector<std::size_t>* bad);

struct Report {
  std::size_t keys = 0;
  std::vector<std::string> warnings;  // one line each, for fd 2
};
// Builds HOME/control/recipients.cdb from users/assign, each assigned
// home's .qmail files, HOME/alias's .qmail files, control/locals (default
// me), virtualdomains, rcpthosts and morercpthosts (domains we only relay
// for accept anything) and control/recipients. Written atomically: a
// temporary file, fsync, rename, fsync of control/. Errors: temp on I/O,
// perm on a bad users/assign; the old cdb is then left alone.
Result<Report> build(const std::string& home_dir);

// For qmail-newu: rebuilds control/recipients.cdb if it exists (validation
// is on), else does nothing. Errors as build().
Result<std::optional<Report>> refresh_if_enabled(const std::string& home_dir);

}  // namespace qmail::rcptdb
