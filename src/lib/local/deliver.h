// qmail-local's job (qmail-local(8), dot-qmail(5), qmail-command(8)):
// choose the .qmail file, then follow its instructions in order, forwards
// last and all at once.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "local/dotqmail.h"

namespace qmail::local {

// qmail-local's arguments: user homedir local dash ext domain sender
// defaultdelivery, and -n (doit = false) or -N.
struct Request {
  std::string user, homedir, local, dash, ext, domain, sender, defaultdelivery;
  bool doit = true;
};

// The .qmail file chosen for a request, read and parsed.
struct Selection {
  std::string file;  // ".qmail-foo-default"; empty when defaultdelivery applies
  std::vector<Instruction> instructions;
  bool executable = false;                  // the file has its user execute bit set
  std::optional<std::string> default_part;  // DEFAULT, for a -default file
};

// Chooses and parses the .qmail file for `req`, looking in the current
// directory (qmail-local has changed to homedir). A missing or empty
// (0 bytes) file means defaultdelivery when dash is empty; when dash is
// not empty the -default files are tried, and if none exists this is a
// perm "Sorry, no mailbox here by that name. (#5.1.1)". A group- or
// world-writable file is a temp error; so is a file with its execute bit
// set that has program, mbox or maildir lines (dot-qmail(5)).
Result<Selection> select(const Request& req);

// dot-qmail(5) "bounce diversion": the envelope sender for forwards
// (NEWSENDER). The original sender if it is empty or "#@[]" (a bounce);
// else local-owner-@domain-@[] (VERP) if .qmail<dash><ext>-owner and
// .qmail<dash><ext>-owner-default exist; else local-owner@domain if the
// first exists; else the original sender. Errors: temp when existence
// cannot be told.
Result<std::string> new_sender(const Request& req);

// Checks the home directory "." (qmail-local has changed to it): sticky
// means the user is editing .qmail; group- or world-writable is unsafe.
// With `doit` false (qmail-local -n, dot-qmail(5)'s way to test a .qmail
// while editing it) a sticky home is only a warning on stderr, as in qmail.
// Errors: temp.
Status check_home(bool doit = true);

// Runs qmail-local on the message at `msgfd` (must be seekable; the main
// program makes it so), writing the report to `out_fd`: informational
// lines (program output) and then "did N+M+P\n" on success, or the reason
// with an enhanced status code on failure. Returns the exit code: 0, 100
// (permanent failure) or 111 (temporary). Changes the current directory
// and the environment (for program deliveries).
int run(const Request& req, int msgfd, int out_fd);

}  // namespace qmail::local
