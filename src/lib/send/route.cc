#include "send/route.h"

#include "base/strings.h"
#include "fs/fs.h"
#include "home/home.h"

namespace qmail::send {

namespace {

// "key:value" lines: the first ':' separates; blank lines, '#' comments
// and lines without ':' (or that `keep` refuses) are ignored; keys are
// lower-cased; the first line for a key wins.
template <typename Keep>
std::map<std::string, std::string> parse_colon_lines(std::string_view text, Keep keep) {
  std::map<std::string, std::string> out;
  for (std::string_view line : str::split(text, '\n')) {
    line = str::trim(line);
    if (line.empty() || line[0] == '#') continue;
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view key = line.substr(0, colon), value = line.substr(colon + 1);
    if (keep(key, value)) out.emplace(str::lower(key), std::string(value));
  }
  return out;
}

}  // namespace

std::map<std::string, std::string> parse_virtualdomains(std::string_view text) {
  return parse_colon_lines(text, [](std::string_view, std::string_view) { return true; });
}

std::map<std::string, std::string> parse_recipientmap(std::string_view text) {
  return parse_colon_lines(text, [](std::string_view from, std::string_view to) {
    return from.find('@') != std::string_view::npos && to.find('@') != std::string_view::npos;
  });
}

namespace {

std::string join_lines(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& l : lines) {
    text += l;
    text += '\n';
  }
  return text;
}

}  // namespace

Result<Controls> load_controls() {
  Controls c;
  QMAIL_ASSIGN_OR_RETURN(auto me, control::me());
  QMAIL_ASSIGN_OR_RETURN(auto locals, control::read_lines("locals"));
  // qmail-send(8): locals defaults to me; with neither it refuses to run.
  if (!fs::exists(home::path("control/locals"))) {
    if (!me || me->empty()) return Status::perm("control/locals and control/me are missing");
    locals.push_back(*me);
  }
  for (auto& l : locals) c.locals.insert(str::lower(str::trim(l)));
  QMAIL_ASSIGN_OR_RETURN(auto ph, control::read_lines("percenthack"));
  for (auto& l : ph) c.percenthack.insert(str::lower(str::trim(l)));
  QMAIL_ASSIGN_OR_RETURN(auto vd, control::read_lines("virtualdomains"));
  c.virtualdomains = parse_virtualdomains(join_lines(vd));
  QMAIL_ASSIGN_OR_RETURN(auto rm, control::read_lines("recipientmap"));
  c.recipientmap = parse_recipientmap(join_lines(rm));
  QMAIL_ASSIGN_OR_RETURN(c.envnoathost, control::read_line_or_me("envnoathost", "envnoathost"));
  return c;
}

Route route(const Controls& c, std::string_view recipient) {
  std::string addr(recipient);
  std::size_t at = addr.rfind('@');
  if (at == std::string::npos) {
    at = addr.size();
    addr += '@';
    addr += c.envnoathost;
  }
  std::string user = addr.substr(0, at);
  std::string domain = str::lower(std::string_view(addr).substr(at + 1));

  // qmail-send(8): user%fqdn@domain -> user@fqdn for percenthack domains,
  // repeatedly. Each round removes a '%', so this ends.
  while (c.percenthack.count(domain)) {
    std::size_t pct = user.rfind('%');
    if (pct == std::string::npos) break;
    domain = str::lower(std::string_view(user).substr(pct + 1));
    user.resize(pct);
  }

  // qmail-send(8): recipientmap comes after percenthack, before locals.
  if (!c.recipientmap.empty()) {
    auto m = c.recipientmap.find(str::lower(user) + "@" + domain);
    if (m != c.recipientmap.end()) {
      std::size_t mat = m->second.rfind('@');
      user = m->second.substr(0, mat);
      domain = str::lower(std::string_view(m->second).substr(mat + 1));
    }
  }

  Route r;
  if (c.locals.count(domain)) {
    r.local = true;
    r.address = user + "@" + domain;
    return r;
  }
  std::string full = str::lower(user) + "@" + domain;
  auto lookup = [&](const std::string& key) -> const std::string* {
    auto it = c.virtualdomains.find(key);
    return it == c.virtualdomains.end() ? nullptr : &it->second;
  };
  const std::string* prepend = lookup(full);
  if (!prepend) prepend = lookup(domain);
  for (std::size_t i = 0; !prepend && i < domain.size(); ++i)
    if (domain[i] == '.') prepend = lookup(domain.substr(i));
  if (!prepend) prepend = lookup("");
  if (prepend && !prepend->empty()) {
    r.local = true;
    r.address = *prepend + "-" + user + "@" + domain;
    return r;
  }
  r.address = user + "@" + domain;
  return r;
}

std::string verp_sender(std::string_view sender, std::string_view recipient) {
  if (!sender.ends_with(kVerpSuffix)) return std::string(sender);
  std::string_view owner = sender.substr(0, sender.size() - kVerpSuffix.size());  // owner-@host
  std::size_t oat = owner.rfind('@');
  std::size_t rat = recipient.rfind('@');
  if (oat == std::string_view::npos || rat == std::string_view::npos) return std::string(sender);
  std::string out(owner.substr(0, oat));
  out += recipient.substr(0, rat);
  out += '=';
  out += recipient.substr(rat + 1);
  out += owner.substr(oat);
  return out;
}

std::string_view strip_vdom_prepend(const Controls& c, std::string_view address) {
  std::size_t at = address.rfind('@');
  if (at == std::string_view::npos) return address;
  std::string domain = str::lower(address.substr(at + 1));
  auto strip = [&](const std::string& prepend) -> std::string_view {
    if (prepend.empty() || address.size() <= prepend.size() + 1 ||
        address.substr(0, prepend.size()) != prepend || address[prepend.size()] != '-')
      return {};
    return address.substr(prepend.size() + 1);
  };
  // A "user@domain" entry: the rest after the prepend names it.
  for (std::size_t dash = 0; dash < at; ++dash) {
    if (address[dash] != '-') continue;
    auto it = c.virtualdomains.find(str::lower(address.substr(dash + 1)));
    if (it != c.virtualdomains.end() && it->second == address.substr(0, dash))
      return address.substr(dash + 1);
  }
  // As qmail-send: the first of "domain", each ".suffix" and "" that is
  // listed decides.
  for (std::size_t i = 0; i <= domain.size(); ++i) {
    if (i != 0 && i != domain.size() && domain[i] != '.') continue;
    auto it = c.virtualdomains.find(domain.substr(i));
    if (it == c.virtualdomains.end()) continue;
    std::string_view rest = strip(it->second);
    return rest.empty() ? address : rest;
  }
  return address;
}

}  // namespace qmail::send
