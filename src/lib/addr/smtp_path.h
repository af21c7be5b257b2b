// RFC 5321 4.1.2 Reverse-path and Forward-path ("<@route:local@domain>")
// as MAIL FROM and RCPT TO carry them, parsed into the unquoted envelope
// address qmail stores. Untrusted input: every byte is checked, lengths
// are bounded by smtp/limits.h, and nothing here allocates more than the
// input's size.
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

// Is `s` a valid RFC 5321 Domain (no literal), as parse_path checks it?
bool is_domain(std::string_view s);

}  // namespace qmail::addr
