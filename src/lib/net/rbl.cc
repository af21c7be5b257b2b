#include "net/rbl.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "base/strings.h"
#include "io/io.h"

namespace qmail::net::rbl {

Result<Source> parse_source(std::string_view value, bool anti) {
  Source s;
  s.anti = anti;
  if (!anti && value.starts_with("-")) {
    s.permanent = true;
    value.remove_prefix(1);
  }
  while (value.ends_with(".")) value.remove_suffix(1);
  // The reversed IPv6 address takes 64 of the 255 octets of a name.
  if (value.empty() || value.size() > dns::kMaxName - 64)
    return Status::perm("bad RBL zone: " + std::string(value));
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (u <= ' ' || u >= 127) return Status::perm("bad RBL zone: " + std::string(value));
  }
  s.zone = str::lower(value);
  return s;
}

std::optional<Decision> from_env(const char* rblsmtpd) {
  if (!rblsmtpd) return std::nullopt;
  Decision d;
  d.source = "RBLSMTPD";
  std::string_view v(rblsmtpd);
  if (v.empty()) return d;
  d.block = true;
  if (v.starts_with("-")) {
    d.permanent = true;
    v.remove_prefix(1);
  }
  d.text = std::string(v);
  return d;
}

Lookups dns_lookups(dns::Resolver& resolver) {
  Lookups l;
  l.txt = [&resolver](const std::string& name) { return resolver.txt(name); };
  l.a = [&resolver](const std::string& name) { return resolver.a(name); };
  return l;
}

Decision check(const std::vector<Source>& sources, const dns::IpAddr& ip, const Lookups& dns) {
  for (const Source& s : sources) {
    std::string name = dns::reverse_name(ip, s.zone);
    if (s.anti) {
      auto r = dns.a(name);
      // Fail open: an anti-list we cannot ask counts as anti-listing.
      if (!r.is_ok() ? r.status().is_temp() : !r->empty())
        return Decision{false, false, "", s.zone};
      continue;
    }
    auto r = dns.txt(name);
    // NXDOMAIN (perm), no TXT, or a failed lookup (fail open): not listed.
    if (!r.is_ok() || r->empty()) continue;
    Decision d;
    d.block = true;
    d.permanent = s.permanent;
    d.source = s.zone;
    for (const std::string& t : *r) {
      if (!d.text.empty()) d.text += ' ';
      d.text += t;
    }
    return d;
  }
  return Decision{};
}

std::string safe_text(std::string_view text, std::string_view source) {
  std::string out;
  for (char c : text) {
    if (out.size() >= kMaxText) break;
    auto u = static_cast<unsigned char>(c);
    out += (u < ' ' || u == 127) ? '?' : c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (out.empty()) {
    out = "your address is listed";
    if (!source.empty() && source != "RBLSMTPD") {
      out += " in ";
      for (char c : source.substr(0, kMaxText)) {
        auto u = static_cast<unsigned char>(c);
        out += (u < ' ' || u >= 127) ? '?' : c;
      }
    }
  }
  return out;
}

std::string reply(const Decision& d) {
  return std::string(d.permanent ? "553 5.7.1 " : "451 4.7.1 ") + safe_text(d.text, d.source) +
         "\r\n";
}

std::string answer(std::string_view line, std::string_view refusal, std::string_view host,
                   bool* quit) {
  *quit = false;
  if (line.ends_with("\r")) line.remove_suffix(1);
  std::string_view verb = line.substr(0, line.find(' '));
  if (str::iequals(verb, "quit")) {
    *quit = true;
    return "221 " + std::string(host) + "\r\n";
  }
  if (str::iequals(verb, "helo") || str::iequals(verb, "ehlo"))
    return "250 " + std::string(host) + "\r\n";
  if (str::iequals(verb, "noop") || str::iequals(verb, "rset")) return "250 2.0.0 ok\r\n";
  return std::string(refusal);
}

Status converse(int in, int out, const Decision& d, std::string_view host, int timeout_seconds) {
  using Clock = std::chrono::steady_clock;
  auto deadline = Clock::now() + std::chrono::seconds(timeout_seconds);
  std::string refusal = reply(d);
  QMAIL_RETURN_IF_ERROR(io::write_all(out, "220 " + std::string(host) + " ESMTP\r\n"));
  std::string line;
  bool too_long = false;
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return Status::ok();  // rblsmtpd: drop after the timeout
    pollfd p{in, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::temp_errno("poll");
    }
    if (r == 0) continue;
    ssize_t n = ::read(in, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return Status::temp_errno("read");
    }
    if (n == 0) return Status::ok();
    std::string replies;
    bool quit = false;
    for (ssize_t i = 0; i < n && !quit; ++i) {
      char c = buf[i];
      if (c != '\n') {
        if (line.size() < kMaxLine)
          line += c;
        else
          too_long = true;
        continue;
      }
      replies += too_long ? refusal : answer(line, refusal, host, &quit);
      line.clear();
      too_long = false;
    }
    if (!replies.empty()) QMAIL_RETURN_IF_ERROR(io::write_all(out, replies));
    if (quit) return Status::ok();
  }
}

}  // namespace qmail::net::rbl
