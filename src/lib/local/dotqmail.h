// The .qmail file (dot-qmail(5)): parsing delivery instructions, choosing
// the file for an extension, and the pieces of the address that
// qmail-command(8) hands to programs.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace qmail::local {

// Bounds on a .qmail file (qmail has none). A mailing list kept as forward
// lines can be long, so these are generous; past them delivery defers.
inline constexpr std::size_t kMaxDotQmail = 8 * 1024 * 1024;
inline constexpr std::size_t kMaxInstructions = 200000;

// dot-qmail(5): the five kinds of line; comments are dropped by parse().
enum class Kind { kProgram, kForward, kMbox, kMaildir };

struct Instruction {
  Kind kind;
  // Program: the command after '|'. Forward: the address (without '&').
  // Mbox and maildir: the whole line (a file or directory name).
  std::string text;
};

// "program", "forward", "mbox", "maildir": the words qmail-local -n prints.
std::string_view kind_name(Kind kind);

// Parses the contents of a .qmail file (or the defaultdelivery argument):
// one instruction per line; trailing spaces and tabs are ignored; '#'
// lines and blank lines are skipped, but a blank first line is an error.
// Errors (all temp, since the user can fix the file and delivery is then
// retried): blank first line, a NUL byte, an empty forward address, more
// than kMaxInstructions lines, text longer than kMaxDotQmail.
Result<std::vector<Instruction>> parse(std::string_view text);

// dot-qmail(5): ext with uppercase folded to lowercase and dots replaced
// by colons (so no ext can name "..": the file name stays in homedir).
std::string safe_ext(std::string_view ext);

// One candidate .qmail file name and the DEFAULT value it implies.
struct Candidate {
  std::string name;          // e.g. ".qmail-foo-default"
  bool is_default;           // ends in "default": DEFAULT is set
  std::string default_part;  // the part of ext that "default" stands for
};

// The files qmail-local tries, in order, for `dash` and `ext` (ext as
// given; it is made safe here): first ".qmail" dash safe_ext; then, when
// dash is nonempty, for each '-' in ext from the right, the prefix up to
// and including it plus "default", and finally ".qmail" dash "default".
// For ext "foo-bar": .qmail-foo-bar, .qmail-foo-default, .qmail-default.
// default_part is taken from the original ext (dots kept), so VERP
// addresses such as "owner-user=host.dom" arrive intact.
std::vector<Candidate> candidates(std::string_view dash, std::string_view ext);

// qmail-command(8): EXT2 is what follows the first dash of EXT (empty if
// there is none); apply twice for EXT3 and three times for EXT4.
std::string_view after_first_dash(std::string_view s);
// qmail-command(8): HOST2 is HOST before its last dot (HOST itself if it
// has none); apply twice for HOST3, three times for HOST4.
std::string_view before_last_dot(std::string_view s);

}  // namespace qmail::local
