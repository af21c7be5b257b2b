// qmail-send's routing of one envelope recipient (qmail-send(8), CONTROL
// FILES): envnoathost, percenthack, recipientmap, locals, virtualdomains.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace qmail::send {

struct Controls {
  std::set<std::string> locals;                       // lower-cased domains
  std::set<std::string> percenthack;                  // lower-cased domains
  std::map<std::string, std::string> virtualdomains;  // lower-cased key -> prepend
  std::map<std::string, std::string> recipientmap;    // lower-cased address -> rewritten
  std::string envnoathost;
};

// Parses control/virtualdomains text: "key:prepend" lines, where key is
// "domain", ".suffix", "user@domain" or "" (catch-all); the first ':'
// separates. Blank lines, '#' comments and lines without ':' are ignored;
// keys are lower-cased; the first line for a key wins.
std::map<std::string, std::string> parse_virtualdomains(std::string_view text);

// Parses control/recipientmap text: "recipient:rewritten" lines (both
// with domains); the first ':' separates, keys are lower-cased, blank
// lines, '#' comments and lines without ':' or without '@' on either
// side are ignored; the first line for a key wins.
std::map<std::string, std::string> parse_recipientmap(std::string_view text);

// Reads control/locals (default: me), percenthack, recipientmap, virtualdomains and
// envnoathost (default: me, else "envnoathost"). Errors: temp on an
// unreadable file; perm when neither locals nor me exists (qmail-send
// refuses to run).
Result<Controls> load_controls();

struct Route {
  bool local = false;
  // The address handed to the spawner: for local delivery
  // "local@domain" or "prepend-local@domain", otherwise the (rewritten)
  // remote address.
  std::string address;
};

// Routes `recipient` as qmail-send does: append @envnoathost when there is
// no '@'; lower-case the domain; apply the percent hack repeatedly for
// domains in percenthack; then recipientmap (the whole address, any case;
// once); a domain in locals is local; otherwise
// virtualdomains is consulted for "user@domain", "domain", each ".suffix"
// and "" in that order, and a non-empty prepend makes it local as
// "prepend-user@domain"; everything else is remote.
Route route(const Controls& c, std::string_view recipient);

// What qmail-inject's QMAILINJECT=r (and qmail-local's VERP owner) puts at
// the end of a sender: "owner-@host-@[]".
inline constexpr std::string_view kVerpSuffix = "-@[]";

// The envelope sender qmail-send hands the spawner for one delivery: a VERP
// sender "owner-@host-@[]" becomes "owner-box=domain@host" for the
// recipient "box@domain"; any other sender (or a recipient without '@')
// stays as it is.
std::string verp_sender(std::string_view sender, std::string_view recipient);

// A routed local address as the bounce names it: the virtualdomains
// prepend taken off again ("prepend-user@domain" -> "user@domain") when
// the entry for the domain (or a ".suffix" of it, or "") has that prepend,
// or a "user@domain" entry has it. Otherwise the address unchanged.
std::string_view strip_vdom_prepend(const Controls& c, std::string_view address);

}  // namespace qmail::send
