// qmail-setup(8): creates or repairs a qmail home (bin, man, control,
// users, alias, queue) with qmail's owners and modes (qmail's hier.c and
// INSTALL.ids). Idempotent; never removes anything, so a queue survives.
#pragma once

#include <sys/types.h>

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace qmail::setup {

// Every program the project ships. qmail-setup copies into HOME/bin those
// of them it finds beside its own executable, and nothing else.
std::span<const std::string_view> programs();

// One of qmail's accounts: its name, uid and primary gid.
struct Account {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

// Who owns what. In a root home `root` is uid 0 and the others are
// qmail's users and groups; in a single-user home all of them are the
// installing user.
struct Owners {
  bool single_user = false;
  Account root;
  Account alias, qmaild, qmaill, qmailp, qmailq, qmailr, qmails;
  gid_t qmail = 0, nofiles = 0;
};

// Everything owned by `name` (uid, gid): a single-user home.
Owners single_user_owners(const std::string& name, uid_t uid, gid_t gid);

// qmail's users and groups from the system (INSTALL.ids). With `create`,
// missing ones are made first with groupadd/useradd (system accounts, no
// login shell, home `home` or `home`/alias for alias). Errors: temp when an
// account is missing and cannot be made.
Result<Owners> system_owners(const std::string& home, bool create);

// users/ids text for `o`: one "name:uid:gid" line per account (alias
// qmaild qmaill qmailp qmailq qmailr qmails) and per group (qmail,
// nofiles: the gid in both number fields), as home::load_ids() reads it.
std::string format_ids(const Owners& o);

struct Options {
  std::string home;     // absolute
  std::string exe_dir;  // directory to copy programs from
  // Directories holding man/*.N pages; the first that exists is used.
  std::vector<std::string> man_dirs;
};

// A non-fatal problem found while installing (a missing program, no man
// pages, a bad users/assign), for the caller to print.
using Warnings = std::vector<std::string>;

// Creates or repairs the home described by `opt`, owned as `o` says:
//   HOME, bin, control, users, man/manN     root:qmail 0755
//   bin/*  root:qmail 0755 (qmail-queue qmailq 4711 in a root home;
//          qmail-lspawn qmail-start qmail-newu 0700; daemons 0711)
//   man/manN/*.N                             root:qmail 0644
//   users/ids (rewritten), users/assign (".", if missing), users/cdb
//   alias alias:qmail 2755, alias/Maildir alias 0700, and
//   alias/.qmail-{postmaster,mailer-daemon,root} "./Maildir/" if missing
//   queue/... as qmail's hier.c has it
// Existing files and directories are kept; only their owner and mode
// are repaired. Errors: temp.
Status install(const Options& opt, const Owners& o, Warnings* warnings);

// config-fast(8): writes control/me, defaultdomain, plusdomain, and adds
// `fqdn` to control/locals and control/rcpthosts (once), durably. Each
// step is described in `report`, one line each. Errors: perm on a bad
// host name, temp on I/O.
Status config_fast(const std::string& home, std::string_view fqdn,
                   std::vector<std::string>* report);

// qmail's config-fast rules: defaultdomain drops the first label when
// there are at least three; plusdomain keeps the last two labels.
std::string default_domain(std::string_view fqdn);
std::string plus_domain(std::string_view fqdn);

}  // namespace qmail::setup
