// qmail-getpw(8) and qmail-pw2u(8): giving local addresses to accounts by
// qmail's rules when users/cdb has no assignment.
//
// Project rule: the catch-all alias account always has HOME/alias as its
// home, whatever its passwd entry says, so several homes on one machine
// never share mail. In a single-user home system accounts are not
// consulted: every address goes to alias, with ext = local.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "users/users.h"

namespace qmail::users {

// qmail's qlx.h: how qmail-getpw fails (qmail-lspawn passes the code on).
inline constexpr int kQlxNfs = 115;      // temporary trouble checking a home
inline constexpr int kQlxNoAlias = 116;  // no alias account
inline constexpr int kQlxSys = 118;      // temporary system trouble

// qmail's conf-break: the user-extension delimiter.
inline constexpr char kBreak = '-';
// qmail-getpw(8): account names are shorter than 32 characters.
inline constexpr std::size_t kMaxUserName = 31;

// Finds a system account by name and applies qmail-getpw(8)'s rules:
// nullopt unless it has a nonzero uid and a home directory that exists
// and that it owns. The Entry has user, uid, gid and homedir set.
// Errors: temp (exit kQlxSys for getpwnam trouble, kQlxNfs for stat).
using FindUser = std::function<Result<std::optional<Entry>>(const std::string& name)>;
Result<std::optional<Entry>> find_system_user(const std::string& name);

struct GetpwConfig {
  // The catch-all: user "alias", its uid and gid, homedir HOME/alias.
  Entry alias;
  // Consult system accounts (a root home) or not (a single-user home).
  bool system_users = true;
};

// qmail-getpw(8): the account controlling `local`. The longest prefix of
// `local` ending at its end or before a '-' that names a user (lower-cased,
// at most kMaxUserName long) wins: dash "" and ext "" for the bare name,
// dash "-" and ext the rest after the '-'. Otherwise alias, with dash "-"
// and ext `local`. An account named "alias" always gets the alias
// homedir. Errors: temp from `find`.
Result<Entry> getpw(std::string_view local, const GetpwConfig& config, const FindUser& find);

// qmail-pw2u(8) options.
struct Pw2uOptions {
  // 2 (-o): skip a user whose home is missing or not theirs; 1 (-h): stop
  // if a home is missing; 0 (-H): do not look at homes.
  int home_strategy = 2;
  bool allow_upper = false;  // -u / -U
  char brk = kBreak;         // -c char; '\0' (-C) disables extensions
  bool slash = false;        // -/: dash is "-/"
};

// The optional files of HOME/users that change qmail-pw2u's rules; a
// missing file is nullopt.
struct Pw2uFiles {
  std::optional<std::set<std::string>> include;
  std::optional<std::set<std::string>> exclude;
  // user -> "mailname1:mailname2:..."
  std::optional<std::map<std::string, std::string>> mailnames;
  std::optional<std::string> subusers;  // text
  std::optional<std::string> append;    // text, copied verbatim
};

// Reads the files above from `users_dir`. Errors: temp.
Result<Pw2uFiles> read_pw2u_files(const std::string& users_dir);

// Owner of `path`, or nullopt if it does not exist. Errors: temp.
using HomeOwner = std::function<Result<std::optional<uid_t>>(const std::string& path)>;
Result<std::optional<uid_t>> stat_owner(const std::string& path);

// qmail-pw2u(8): turns V7 passwd text into users/assign text (ending with
// "."). `alias` is the catch-all (user, uid, gid, homedir HOME/alias); the
// passwd's own alias entry, if any, gets that homedir, and without one
// the catch-all line is printed after the accounts. `alias` is nullopt
// when no alias account is known. Errors: temp (qmail-pw2u exits 111):
// no alias account, a missing home with -h, a subuser of an unknown user.
Result<std::string> pw2u(std::string_view passwd, const Pw2uOptions& opt, const Pw2uFiles& files,
                         const std::optional<Entry>& alias, const HomeOwner& owner);

}  // namespace qmail::users
