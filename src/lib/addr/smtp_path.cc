#include "addr/smtp_path.h"

#include <arpa/inet.h>

#include <cctype>
#include <cstring>

#include "addr/addr.h"
#include "smtp/limits.h"

namespace qmail::addr {

namespace {

bool is_8bit(char c) { return static_cast<unsigned char>(c) >= 0x80; }
bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// RFC 5322 atext, plus UTF-8 octets (RFC 6531 3.3).
bool is_atext(char c) {
  return is_alnum(c) || is_8bit(c) ||
         (c != '\0' && std::strchr("!#$%&'*+-/=?^_`{|}~", c) != nullptr);
}

bool valid_label(std::string_view l) {
  // RFC 5321 4.1.2 sub-domain: Let-dig [Ldh-str]; RFC 1035 63 octets.
  if (l.empty() || l.size() > 63) return false;
  for (char c : l)
    if (!is_alnum(c) && c != '-' && !is_8bit(c)) return false;
  return l.front() != '-' && l.back() != '-';
}

bool valid_literal(std::string_view lit) {
  // lit is the text between the brackets.
  char buf[16];
  std::string s;
  if (lit.size() > 5 && (lit.substr(0, 5) == "IPv6:" || lit.substr(0, 5) == "ipv6:")) {
    s.assign(lit.substr(5));
    if (s.size() > 45) return false;
    // inet_pton stops at a NUL; only its own alphabet may pass.
    for (char c : s)
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
    return ::inet_pton(AF_INET6, s.c_str(), buf) == 1;
  }
  // RFC 5321 4.1.3 IPv4-address-literal: dotted decimal only.
  if (lit.empty() || lit.size() > 15) return false;
  for (char c : lit)
    if (!(c >= '0' && c <= '9') && c != '.') return false;
  s.assign(lit);
  return ::inet_pton(AF_INET, s.c_str(), buf) == 1;
}

bool valid_domain_or_literal(std::string_view d, bool* literal) {
  *literal = false;
  if (d.empty() || d.size() > smtp::kMaxDomain) return false;
  if (d.front() == '[') {
    if (d.back() != ']') return false;
    *literal = true;
    return valid_literal(d.substr(1, d.size() - 2));
  }
  return is_domain(d);
}

}  // namespace

bool is_domain(std::string_view s) {
  if (s.empty() || s.size() > smtp::kMaxDomain) return false;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = s.find('.', start);
    std::string_view label = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
    if (!valid_label(label)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

std::string EnvelopePath::address() const {
  if (null) return "";
  if (domain.empty()) return local;
  return local + "@" + domain;
}

std::string format_path(std::string_view address) {
  if (address.empty()) return "<>";
  // qmail-send(8)'s double-bounce sender goes out as qmail sends it, so a
  // next hop still knows it for one.
  if (address == "#@[]") return "<#@[]>";
  // addresses(5): the domain is what follows the last '@'. An address
  // whose last '@' leaves an empty local part or no valid domain ("a@",
  // "@x", "a@b)": what <"a@">, <"@x"> and <"a@b)"> store) is all local
  // part, quoted whole.
  Split sp = split(address);
  bool literal;
  if (sp.has_at && (sp.local.empty() || !valid_domain_or_literal(sp.domain, &literal)))
    return "<" + quote_string(address) + ">";
  // quote() writes the local part as a dot-atom (= RFC 5321 Dot-string) or
  // a quoted string, and leaves the domain alone.
  return "<" + quote(address) + ">";
}

Result<ParsedPath> parse_path(std::string_view arg) {
  std::size_t i = 0;
  while (i < arg.size() && arg[i] == ' ') ++i;
  ParsedPath out;
  std::string_view inner;
  if (i < arg.size() && arg[i] == '<') {
    // The closing bracket is the first '>' outside a quoted string.
    std::size_t j = i + 1;
    bool quoted = false;
    for (; j < arg.size(); ++j) {
      char c = arg[j];
      if (quoted) {
        if (c == '\\') {
          ++j;
        } else if (c == '"') {
          quoted = false;
        }
      } else if (c == '"') {
        quoted = true;
      } else if (c == '>') {
        break;
      }
    }
    if (j >= arg.size()) return Status::perm("missing '>' after address");
    if (j + 1 - i > smtp::kMaxPath) return Status::perm("address too long");
    inner = arg.substr(i + 1, j - i - 1);
    out.rest = arg.substr(j + 1);
    if (!out.rest.empty() && out.rest.front() != ' ') return Status::perm("junk after address");
  } else {
    // qmail-smtpd accepts "MAIL FROM:user@host" without brackets.
    std::size_t j = arg.find(' ', i);
    if (j == std::string_view::npos) j = arg.size();
    inner = arg.substr(i, j - i);
    out.rest = arg.substr(j);
    if (inner.empty()) return Status::perm("missing address");
    if (inner.size() + 2 > smtp::kMaxPath) return Status::perm("address too long");
    if (inner.find('<') != inner.npos || inner.find('>') != inner.npos)
      return Status::perm("bad address syntax");
  }
  EnvelopePath& p = out.path;
  if (inner.empty()) {
    p.null = true;
    return out;
  }
  // Source route: "@a,@b:" before the mailbox (RFC 5321 4.1.2 A-d-l).
  if (inner.front() == '@') {
    std::size_t colon = inner.find(':');
    if (colon == std::string_view::npos) return Status::perm("bad source route");
    std::string_view route = inner.substr(0, colon);
    std::size_t s = 0;
    while (s < route.size()) {
      std::size_t comma = route.find(',', s);
      if (comma == std::string_view::npos) comma = route.size();
      std::string_view hop = route.substr(s, comma - s);
      bool lit;
      if (hop.size() < 2 || hop.front() != '@' || !valid_domain_or_literal(hop.substr(1), &lit))
        return Status::perm("bad source route");
      s = comma + 1;
      if (comma + 1 == route.size()) return Status::perm("bad source route");
    }
    p.had_route = true;
    inner = inner.substr(colon + 1);
    if (inner.empty()) return Status::perm("bad source route");
  }
  // qmail-send(8)'s double-bounce sender, as qmail sends it ("[]" is no
  // valid domain or literal, but qmail-smtpd takes it).
  if (inner == "#@[]") {
    p.local = "#";
    p.domain = "[]";
    return out;
  }
  // Local part.
  std::size_t k = 0;
  if (inner.front() == '"') {
    k = 1;
    bool closed = false;
    while (k < inner.size()) {
      char c = inner[k];
      if (c == '"') {
        closed = true;
        ++k;
        break;
      }
      if (c == '\\') {
        // RFC 5321 quoted-pairSMTP: backslash then %d32-126.
        if (k + 1 >= inner.size()) return Status::perm("bad quoted local part");
        char e = inner[k + 1];
        if (e < 32 || e > 126) return Status::perm("bad quoted local part");
        p.local.push_back(e);
        k += 2;
        continue;
      }
      // qtextSMTP: %d32-33 / %d35-91 / %d93-126, plus UTF-8.
      if (!(is_8bit(c) || (c >= 32 && c <= 126))) return Status::perm("bad quoted local part");
      p.local.push_back(c);
      ++k;
    }
    if (!closed) return Status::perm("bad quoted local part");
  } else {
    bool last_dot = true;
    for (; k < inner.size() && inner[k] != '@'; ++k) {
      char c = inner[k];
      if (c == '.') {
        if (last_dot) return Status::perm("bad local part");
        last_dot = true;
      } else if (is_atext(c)) {
        last_dot = false;
      } else {
        return Status::perm("bad local part");
      }
      p.local.push_back(c);
    }
    if (last_dot) return Status::perm("bad local part");
  }
  if (p.local.empty()) return Status::perm("empty local part");
  if (k < inner.size()) {
    if (inner[k] != '@') return Status::perm("bad address syntax");
    std::string_view dom = inner.substr(k + 1);
    if (!valid_domain_or_literal(dom, &p.literal)) return Status::perm("bad domain");
    p.domain.assign(dom);
  }
  for (char c : inner)
    if (is_8bit(c)) p.eight_bit = true;
  return out;
}

}  // namespace qmail::addr
