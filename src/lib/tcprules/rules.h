// tcprules(1)-compatible connection rules: the source format, its cdb
// (the same keys and data as ucspi-tcp's tcprules writes, so either
// program's cdb works with either server), and the per-connection lookup.
//
// Source: one rule per line, "address:instructions", '#' comments.
// Addresses: "1.2.3.4" (exact), "1.2." (prefix ending in '.'; for IPv6,
// also prefixes ending in ':', of the compressed text form), "1.2.3.40-60"
// (a range in one component; "10.2-3." is "10.2." and "10.3."), "=host", "=.domain", "info@ip",
// "info@=host", "" (default). Instructions: "allow" or "deny", then
// ",NAME=<d>value<d>" where <d> is any one character that quotes the value
// (usually '"'): `127.:allow,RELAYCLIENT=""`.
//
// cdb data, as tcprules writes it: NUL-terminated records, "D" for deny
// (nothing for allow), then "+NAME=value" per variable. The reader also
// takes the format of earlier versions ('A' or 'D' first, no NUL after
// it).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace qmail::tcprules {

// A rules line may not be longer than this (tcprules has no bound; real
// rules are short).
inline constexpr std::size_t kMaxLine = 64 * 1024;
// A range "a-b" expands to at most 256 keys; a cdb record is capped too.
inline constexpr std::size_t kMaxData = 64 * 1024;

struct Rule {
  std::vector<std::string> keys;  // cdb keys (a range gives several)
  std::string data;               // cdb value
};

// Parses one line (without its '\n'; a trailing '\r' is dropped).
// Comments and blank lines give nullopt. Errors: perm with the reason.
Result<std::optional<Rule>> parse_line(std::string_view line);
// Parses a whole file. Errors: perm "line N: reason".
Result<std::vector<Rule>> parse(std::string_view text);
// Writes `rules` to `tmp`, fsyncs it and renames it over `cdb`, so a
// reader sees the old or the new rules, never half. Errors: temp.
Status write_cdb(const std::vector<Rule>& rules, const std::string& cdb, const std::string& tmp);

struct Decision {
  bool allow = true;
  std::vector<std::pair<std::string, std::string>> env;  // set in order
};
// Decodes a cdb value. Errors: perm "bad rule data".
Result<Decision> decode(std::string_view data);

// The keys tried for one connection, first match wins (tcprules(1)):
// info@ip, info@=host, ip, =host, shorter prefixes of ip, =.suffixes of
// host, "=" (if host), "". `info` and `host` may be empty (= unknown).
std::vector<std::string> lookup_keys(std::string_view ip, std::string_view host,
                                     std::string_view info);

// Looks up a connection in the cdb at `path`; nullopt when no rule
// matches (allow), or when the file is missing and `missing_ok`.
// Errors: temp "unable to read" (missing without missing_ok, unreadable,
// corrupt).
Result<std::optional<Decision>> lookup(const std::string& path, std::string_view ip,
                                       std::string_view host, std::string_view info,
                                       bool missing_ok);

}  // namespace qmail::tcprules
