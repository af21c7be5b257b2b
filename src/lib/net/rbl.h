// RBL checks for qmail-tcpsrv -r/-a, in the manner of rblsmtpd(1): which
// clients to refuse (the RBLSMTPD variable, then the lists), and the small
// SMTP conversation that refuses them. See qmail-tcpsrv(8).
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "dns/dns.h"

namespace qmail::net::rbl {

// One list: -r zone (listed when the reversed address has a TXT record;
// "-zone" = refuse permanently), or -a zone (anti-list: an A record means
// "let through").
struct Source {
  std::string zone;
  bool anti = false;
  bool permanent = false;
};
// Parses the value of -r ("zone" or "-zone") or -a. Errors: perm on an
// empty or malformed zone.
Result<Source> parse_source(std::string_view value, bool anti);

struct Decision {
  bool block = false;
  bool permanent = false;  // 553 instead of 451
  std::string text;        // shown to the client (raw; see reply())
  std::string source;      // "RBLSMTPD" or the zone, for the log
};

// rblsmtpd(1)'s RBLSMTPD: unset (nullptr) = nullopt, ask the lists; set and
// empty = let through; "text" = refuse with text (451); "-text" = refuse
// permanently (553).
std::optional<Decision> from_env(const char* rblsmtpd);

// How check() asks DNS; tests substitute their own.
struct Lookups {
  std::function<Result<std::vector<std::string>>(const std::string&)> txt;
  std::function<Result<std::vector<dns::IpAddr>>(const std::string&)> a;
};
// Lookups through `resolver`, which must outlive them.
Lookups dns_lookups(dns::Resolver& resolver);

// Asks the sources in order until one lists `ip` (refuse, with the TXT
// text) or anti-lists it (let through). Fails open as rblsmtpd -C does: a
// list that cannot be asked (timeout, SERVFAIL) does not list, an anti-list
// that cannot be asked anti-lists.
Decision check(const std::vector<Source>& sources, const dns::IpAddr& ip, const Lookups& dns);

// A single-line rendering of a refusal text that is safe to send: control
// bytes become '?', at most kMaxText octets, never empty.
inline constexpr std::size_t kMaxText = 400;
std::string safe_text(std::string_view text, std::string_view source);
// "451 4.7.1 TEXT\r\n" or "553 5.7.1 TEXT\r\n" (RFC 3463 X.7.1: not
// authorized).
std::string reply(const Decision& d);

// The answer to one command line (without CRLF) in the refusing
// conversation: 250 to HELO/EHLO/NOOP/RSET, 221 and *quit to QUIT, the
// refusal to everything else (MAIL, RCPT, DATA, garbage).
std::string answer(std::string_view line, std::string_view refusal, std::string_view host,
                   bool* quit);

// RFC 5321 4.5.3.1.4: 512 octets per command line; longer ones are
// refused whole.
inline constexpr std::size_t kMaxLine = 512;

// Speaks the refusing conversation on `in`/`out`: greeting, answers, until
// QUIT, EOF, or `timeout_seconds` in all (rblsmtpd's 60). Errors: temp on
// I/O trouble (the caller just exits).
Status converse(int in, int out, const Decision& d, std::string_view host, int timeout_seconds);

}  // namespace qmail::net::rbl
