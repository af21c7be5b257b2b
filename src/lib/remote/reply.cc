#include "remote/reply.h"

#include "base/strings.h"

namespace qmail::remote {

std::string Reply::text() const {
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i) out += '\n';
    for (char c : lines[i]) {
      auto u = static_cast<unsigned char>(c);
      out += (u < ' ' && c != '\t') || u == 127 ? '?' : c;
    }
  }
  return out;
}

Result<bool> ReplyParser::feed(std::string_view line) {
  if (line.size() > kMaxReplyLine) return Status::perm("reply line too long");
  if (cur_.lines.size() >= kMaxReplyLines) return Status::perm("too many reply lines");
  if (line.size() < 3) return Status::perm("malformed reply");
  int code = 0;
  for (int i = 0; i < 3; ++i) {
    char c = line[i];
    if (c < '0' || c > '9') return Status::perm("malformed reply");
    code = code * 10 + (c - '0');
  }
  // RFC 5321 4.2: first digit 2..5 (1yz is never used in SMTP).
  if (code < 200 || code > 599) return Status::perm("malformed reply code");
  bool more = false;
  if (line.size() > 3) {
    if (line[3] == '-')
      more = true;
    else if (line[3] != ' ')
      return Status::perm("malformed reply");
  }
  if (!cur_.lines.empty() && code != cur_.code) return Status::perm("reply code changed");
  cur_.code = code;
  cur_.lines.emplace_back(line);
  return !more;
}

Reply ReplyParser::take() {
  Reply r = std::move(cur_);
  cur_ = Reply();
  return r;
}

Result<std::vector<Reply>> parse_replies(std::string_view text) {
  std::vector<Reply> out;
  ReplyParser p;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    QMAIL_ASSIGN_OR_RETURN(bool done, p.feed(line));
    if (done) out.push_back(p.take());
  }
  return out;
}

Extensions parse_ehlo(const Reply& r) {
  Extensions e;
  for (std::size_t i = 1; i < r.lines.size(); ++i) {
    std::string_view l = r.lines[i];
    l = str::trim(l.substr(std::min<std::size_t>(4, l.size())));
    auto sp = l.find_first_of(" \t");
    std::string kw = str::lower(l.substr(0, sp));
    std::string_view param = sp == std::string_view::npos ? "" : str::trim(l.substr(sp));
    if (kw == "pipelining") e.pipelining = true;
    if (kw == "8bitmime") e.eightbitmime = true;
    if (kw == "smtputf8") e.smtputf8 = true;
    if (kw == "starttls") e.starttls = true;
    if (kw == "size") {
      e.size = true;
      // RFC 1870 4: "SIZE" alone or with 0 means no fixed limit.
      if (auto n = str::parse_uint(param)) e.size_limit = *n;
    }
  }
  return e;
}

}  // namespace qmail::remote
