// SMTP command lines (RFC 5321 4.1.1) and ESMTP parameters of MAIL FROM
// (RFC 1870 SIZE, RFC 6152 BODY, RFC 6531 SMTPUTF8). Pure parsing of
// untrusted text: no I/O, views into the caller's line.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "base/status.h"

namespace qmail::smtp {

enum class Verb {
  kUnknown,
  kHelo,
  kEhlo,
  kMail,
  kRcpt,
  kData,
  kRset,
  kNoop,
  kVrfy,
  kHelp,
  kQuit,
  kStartTls,
  kEmpty,  // an empty line
};

struct Command {
  Verb verb = Verb::kUnknown;
  // For MAIL and RCPT: the text after "FROM:" / "TO:". For the others: the
  // text after the verb and one space. A view into the parsed line.
  std::string_view arg;
  // MAIL/RCPT without their "FROM:"/"TO:" keyword.
  bool bad_syntax = false;
};

// Splits one command line (CRLF or LF already removed). The verb is
// matched case-insensitively; MAIL and RCPT need "FROM:" and "TO:" (any
// case, spaces allowed before the colon's path, as clients send them).
Command parse_command(std::string_view line);

// ESMTP parameters of MAIL FROM.
struct MailParams {
  std::optional<std::uint64_t> size;  // SIZE=n (RFC 1870)
  bool eight_bit_mime = false;        // BODY=8BITMIME (RFC 6152)
  bool smtputf8 = false;              // SMTPUTF8 (RFC 6531)
};

// Parses the text after a MAIL FROM path: space-separated keyword[=value]
// items. Unknown keywords, repeated ones, bad values: perm errors; then
// `*unknown` (if given) says whether a keyword or value is one we do not
// implement (RFC 5321: 555) rather than malformed (501). A SIZE beyond
// 2^63 is clamped, not an error, so that the caller's databytes check
// refuses it.
Result<MailParams> parse_mail_params(std::string_view rest, bool* unknown = nullptr);

// RCPT TO takes no parameters from us (no DSN): anything non-blank after
// the path is an error.
Status check_rcpt_params(std::string_view rest);

}  // namespace qmail::smtp
