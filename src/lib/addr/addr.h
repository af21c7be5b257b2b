// The one mail-address parser of the project: RFC 5322 address lists
// (mailboxes, groups, quoted local parts, comments, route addresses, with
// qmail-header(5)'s leniencies), and the envelope-form helpers of
// addresses(5): splitting local@domain at the last '@' and quoting a local
// part for output in a header or an SMTP command.
//
// Two forms of an address appear in qmail:
//  - envelope form (addresses(5), envelopes(5)): raw bytes, no quoting,
//    "local@domain" split at the LAST '@'; what qmail-queue, qmail-send and
//    qmail-local pass around.
//  - header form (RFC 5322): the local part quoted when it is not a
//    dot-atom, e.g. "The Almighty.One"@heaven.af.mil.
// unquote = Mailbox::address(); quote = addr::quote().
//
// Everything here is pure (no I/O, no allocation limits of its own): callers
// bound the input (qmail-inject bounds the whole header). Parsing is linear
// in the input size; nesting of comments is bounded by kMaxCommentDepth.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/status.h"

namespace qmail::addr {

// ---- envelope form -------------------------------------------------------

// addresses(5): the domain part is everything after the final '@', the local
// part everything before. `has_at` is false for an address without '@'
// (then local is the whole address and domain is empty).
struct Split {
  std::string_view local;
  std::string_view domain;
  bool has_at = false;
};
Split split(std::string_view address);

// RFC 5322 3.4.1: `local` as written in a header: unchanged when it is a
// dot-atom (atext, 8-bit bytes counted as atext per RFC 6532, single dots
// not at either end), otherwise a quoted-string with '"' and '\' escaped.
// The empty local part becomes "".
std::string quote_local(std::string_view local);
// Whether quote_local would add quotes.
bool needs_quote(std::string_view local);
// RFC 5322 3.2.4: `value` as a quoted-string, '"' and '\\' escaped (for
// display names such as qmail-inject's "Full Name" <user@host>).
std::string quote_string(std::string_view value);
// `text` made safe inside a comment: '(', ')' and '\\' escaped.
std::string escape_comment(std::string_view text);
// An envelope address in header form: quote_local(local) + "@" + domain
// (domain unchanged); an address without '@' is just quote_local'd, except
// that the empty address stays empty (the null sender).
std::string quote(std::string_view address);

// ---- header form ---------------------------------------------------------

// Comments nest at most this deep (a bound for a recursive structure; RFC
// 5322 has none, real mail uses 1 or 2).
inline constexpr std::size_t kMaxCommentDepth = 64;

// One mailbox of an address list, in envelope terms.
struct Mailbox {
  // The display name (RFC 5322 3.4 phrase) as it will be written: words
  // separated as in the input, quoted strings kept quoted, comments kept;
  // empty when there is none. Already in header form.
  std::string phrase;
  std::string local;    // unquoted local part
  std::string domain;   // domain as text; a domain literal keeps its brackets
  bool has_at = false;  // an '@' was written (domain may still be empty: "a@")
  bool angle = false;   // written in angle brackets: <...>
  // Comments (text between the outer parentheses, as written) that belong
  // to this mailbox but are not part of its phrase, in input order.
  std::vector<std::string> comments;

  // Is there an address at all? False only for a comment-only entry, which
  // the parser keeps so that rewriting a list does not lose text.
  bool is_address() const { return angle || has_at || !local.empty(); }
  // Is this the null address "<>"?
  bool is_null() const { return angle && !has_at && local.empty(); }
  // Envelope form: local, plus "@" + domain when has_at.
  std::string address() const;
};

// An RFC 5322 group: "phrase: member, member;".
struct Group {
  std::string phrase;  // header form, as Mailbox::phrase
  std::vector<Mailbox> members;
};

using Entry = std::variant<Mailbox, Group>;
using AddressList = std::vector<Entry>;

// Parses the contents of an address-list field (everything after the
// colon; folding may still be in it: CR and LF count as white space).
//
// Lenient as qmail-header(5) describes: words separated only by space are
// separate addresses ("djb fred" -> "djb, fred"); a missing comma after
// "<...>" is supplied; route addresses lose their route ("<@a,@b:c@d>" ->
// "<c@d>"); a ';' outside a group separates like ','; a group left open at
// the end is closed; empty elements (",,") vanish; 8-bit bytes and other
// controls are ordinary atom characters.
//
// Errors (all perm, with a short reason): unterminated quoted string,
// comment or domain literal; comments nested deeper than
// kMaxCommentDepth; unbalanced '<' '>' ')' ']'; a group inside a group;
// junk inside angle brackets (two words in a row, '<' inside '<').
Result<AddressList> parse_list(std::string_view text);

// Parses one address (as after "MAIL FROM:" or one -f argument): exactly
// one mailbox, no group. Errors: as parse_list, plus perm when there is not
// exactly one address.
Result<Mailbox> parse_one(std::string_view text);

// Calls `fn` for every mailbox of `list`, group members included, in
// order, allowing it to change the mailbox in place.
void for_each_mailbox(AddressList& list, const std::function<void(Mailbox&)>& fn);

// Header form of one mailbox: `phrase <quoted>` (angle form), `quoted`
// (bare), each followed by " (comment)" per comment. <> stays <>.
std::string format(const Mailbox& m);
// "phrase: m1, m2;" (an empty group is "phrase: ;").
std::string format(const Group& g);

// The whole list as field contents, folded so that lines stay near
// `width` columns where the entries allow it: entries are separated by
// ", " or by ",\n  " when the next entry would pass `width`. `column` is
// how much of the first line is already used (e.g. strlen("To: ")). The
// result has no final newline.
std::string format_list(const AddressList& list, std::size_t column, std::size_t width = 78);

// The SMTP form (MAIL FROM / RCPT TO paths, RFC 5321 4.1.2) has its own
// parser and formatter: addr/smtp_path.h.

}  // namespace qmail::addr
