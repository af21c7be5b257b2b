#include "smtp/command.h"

#include "base/strings.h"

namespace qmail::smtp {

namespace {

struct VerbName {
  std::string_view name;
  Verb verb;
};
constexpr VerbName kVerbs[] = {
    {"helo", Verb::kHelo}, {"ehlo", Verb::kEhlo},         {"mail", Verb::kMail},
    {"rcpt", Verb::kRcpt}, {"data", Verb::kData},         {"rset", Verb::kRset},
    {"noop", Verb::kNoop}, {"vrfy", Verb::kVrfy},         {"help", Verb::kHelp},
    {"quit", Verb::kQuit}, {"starttls", Verb::kStartTls},
};

}  // namespace

Command parse_command(std::string_view line) {
  Command c;
  if (line.empty()) {
    c.verb = Verb::kEmpty;
    return c;
  }
  std::size_t sp = line.find(' ');
  std::string_view word = line.substr(0, sp);
  std::string_view rest = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
  for (const auto& v : kVerbs) {
    if (str::iequals(word, v.name)) {
      c.verb = v.verb;
      break;
    }
  }
  if (c.verb == Verb::kMail || c.verb == Verb::kRcpt) {
    std::string_view kw = c.verb == Verb::kMail ? "from:" : "to:";
    std::string_view r = rest;
    if (!str::istarts_with(r, kw)) {
      c.bad_syntax = true;
      return c;
    }
    c.arg = r.substr(kw.size());
    return c;
  }
  c.arg = rest;
  return c;
}

Result<MailParams> parse_mail_params(std::string_view rest, bool* unknown) {
  MailParams p;
  auto not_ours = [&](const char* what) {
    if (unknown) *unknown = true;
    return Status::perm(what);
  };
  bool seen_size = false, seen_body = false;
  for (std::string_view item : str::split(rest, ' ')) {
    if (item.empty()) continue;
    std::size_t eq = item.find('=');
    std::string_view key = item.substr(0, eq);
    std::string_view value =
        eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1);
    bool has_value = eq != std::string_view::npos;
    if (str::iequals(key, "size")) {
      if (seen_size || !has_value || value.empty() || value.size() > 20)
        return Status::perm("bad SIZE parameter");
      for (char ch : value)
        if (ch < '0' || ch > '9') return Status::perm("bad SIZE parameter");
      auto n = str::parse_uint(value);
      p.size = n ? *n : UINT64_MAX;
      seen_size = true;
    } else if (str::iequals(key, "body")) {
      if (seen_body || !has_value) return Status::perm("bad BODY parameter");
      if (str::iequals(value, "8bitmime"))
        p.eight_bit_mime = true;
      else if (!str::iequals(value, "7bit"))
        return value.empty() ? Status::perm("bad BODY parameter")
                             : not_ours("unsupported BODY type");
      seen_body = true;
    } else if (str::iequals(key, "smtputf8")) {
      if (has_value || p.smtputf8) return Status::perm("bad SMTPUTF8 parameter");
      p.smtputf8 = true;
    } else {
      return not_ours("unsupported parameter");
    }
  }
  return p;
}

Status check_rcpt_params(std::string_view rest) {
  for (char c : rest)
    if (c != ' ') return Status::perm("unsupported parameter");
  return Status::ok();
}

}  // namespace qmail::smtp
