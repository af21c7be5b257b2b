// qmail-tcpsrv: accept TCP connections and run a program for each, in the
// manner of ucspi-tcp's tcpserver(1). See man/qmail-tcpsrv.8.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "net/rbl.h"

namespace qmail::tcpsrv {

struct Options {
  std::string host;                       // numeric; "0" = any IPv4, "::" = any IPv6 (+IPv4)
  std::string port;                       // decimal; "0" = the kernel picks one
  std::vector<std::string> program;       // argv of the per-connection program
  unsigned limit = 40;                    // -c: children at once
  unsigned per_ip = 0;                    // -i: children per remote IP (0 = none)
  int backlog = 20;                       // -b
  std::string rules;                      // -x: rules cdb
  bool rules_missing_ok = false;          // -X
  std::optional<uid_t> uid;               // -u
  std::optional<gid_t> gid;               // -g
  std::optional<std::string> local_host;  // -l
  std::string banner;                     // -B
  bool nodelay = false;                   // -D
  bool print_port = false;                // -1
  int verbosity = 1;                      // -q 0, -Q 1, -v 2
  bool remote_host = false;               // -h (on), -H (off): TCPREMOTEHOST by PTR
  bool paranoid = false;                  // -p (on), -P (off): forward-confirm it
  std::vector<net::rbl::Source> rbl;      // -r zone, -r -zone, -a zone, in order
  int rbl_timeout = 60;                   // seconds of the refusing conversation
  // -E: always exec the program. Without it, when the program is our own
  // qmail-smtpd (spawn/builtin.h), the child runs its code without exec:
  // cheaper, but every connection then shares the listener's address
  // layout instead of a fresh one.
  bool always_exec = false;
};

// Parses tcpserver-style arguments (argv without the program name).
// Errors: perm "usage: ..." or the offending option.
Result<Options> parse_args(std::span<char* const> args);

// Binds, drops privileges, and serves until SIGTERM. Returns only on a
// setup error or after SIGTERM (ok).
Status serve(const Options& opt);

}  // namespace qmail::tcpsrv
