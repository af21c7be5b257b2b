// RFC 5321 4.1.2 Reverse-path and Forward-path ("<@route:local@domain>")
// as MAIL FROM and RCPT TO carry them: the project's one SMTP path parser
// (qmail-smtpd) and its inverse, the formatter (qmail-remote's MAIL FROM
// and RCPT TO). parse_path gives the unquoted envelope address qmail
// stores; format_path quotes it again. Untrusted input: every byte is
// checked, lengths are bounded by smtp/limits.h, and nothing here
// allocates more than the input's size.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace qmail::addr {

struct EnvelopePath {
  bool null = false;       // "<>" (only meaningful for MAIL FROM)
  std::string local;       // local part, unquoted ("a b"@x -> a b)
  std::string domain;      // empty when the path had no "@domain"; an address
                           // literal keeps its brackets: "[192.0.2.1]"
  bool literal = false;    // domain is an address literal
  bool eight_bit = false;  // a byte >= 0x80 appears (needs SMTPUTF8)
  bool had_route = false;  // a source route "@a,@b:" was given and dropped

  // The envelope address: "local@domain", or "local" without a domain, or
  // "" for the null path.
  std::string address() const;
};

struct ParsedPath {
  EnvelopePath path;
  // What followed the path: the ESMTP parameters (leading spaces kept).
  // Points into the input given to parse_path.
  std::string_view rest;
};

// Parses the argument of "MAIL FROM:" or "RCPT TO:" (everything after the
// colon). Spaces before the path are skipped, as many clients send them.
// A path without angle brackets is accepted when it is a single word (as
// qmail-smtpd does), and then `rest` is what follows the word.
//
// Grammar (RFC 5321 4.1.2, with RFC 6531 3.3 UTF-8 in atoms, quoted
// strings and domain labels): source routes are parsed and dropped
// (RFC 5321 C: "SHOULD ignore"); the local part is a Dot-string or a
// Quoted-string; the domain is a dotted name of letter-digit-hyphen labels
// (at most 63 octets each, no trailing dot) or an address literal
// [IPv4] or [IPv6:...] checked with inet_pton. A path without "@domain" is
// accepted (policy decides; RFC 5321 requires <Postmaster>).
//
// Errors: perm with a text saying what is wrong; the caller picks the
// reply code.
Result<ParsedPath> parse_path(std::string_view arg);

// The path for an envelope-form address (addresses(5): raw bytes, split
// at the last '@'), as qmail-remote sends it: "<" Local-part "@" domain
// ">", the local part as a Dot-string when it is one (RFC 5321 4.1.2;
// 8-bit bytes count as atext, RFC 6531) and as a Quoted-string otherwise,
// with '"' and '\\' escaped; "<>" for the empty address. When the last
// '@' leaves an empty local part or no valid domain ("a@", "a@b)"), the
// whole address is the quoted local part. The domain is
// written as given. For every address that parse_path produced,
// parse_path(format_path(a)) gives `a` again (if it fits kMaxPath).
std::string format_path(std::string_view address);

// Is `s` a valid RFC 5321 Domain (no literal), as parse_path checks it?
bool is_domain(std::string_view s);

}  // namespace qmail::addr
