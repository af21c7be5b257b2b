#include "remote/smtproutes.h"

#include "base/strings.h"

namespace qmail::remote {

Result<SmtpRoutes> SmtpRoutes::parse(std::string_view text) {
  SmtpRoutes routes;
  std::size_t lineno = 0;
  while (!text.empty()) {
    ++lineno;
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    line = str::trim(line);
    if (line.empty() || line[0] == '#') continue;
    auto bad = [&](std::string_view why) {
      return Status::temp("smtproutes line " + std::to_string(lineno) + ": " + std::string(why));
    };
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return bad("no colon");
    Entry e;
    e.domain = str::lower(line.substr(0, colon));
    std::string_view rest = line.substr(colon + 1);
    std::string_view relay, port;
    if (!rest.empty() && rest[0] == '[') {
      // An address literal; IPv6 ones contain colons.
      auto close = rest.find(']');
      if (close == std::string_view::npos) return bad("unclosed [");
      relay = rest.substr(0, close + 1);
      rest = rest.substr(close + 1);
      if (!rest.empty()) {
        if (rest[0] != ':') return bad("junk after ]");
        port = rest.substr(1);
      }
    } else {
      auto c2 = rest.find(':');
      relay = rest.substr(0, c2);
      if (c2 != std::string_view::npos) port = rest.substr(c2 + 1);
    }
    e.route.relay = str::lower(relay);
    if (!port.empty()) {
      auto p = str::parse_uint(port, 65535);
      if (!p || *p == 0) return bad("bad port");
      e.route.port = static_cast<std::uint16_t>(*p);
    }
    if (!routes.exact(e.domain)) routes.entries_.push_back(std::move(e));
  }
  return routes;
}

const Route* SmtpRoutes::exact(std::string_view domain) const {
  for (const auto& e : entries_)
    if (e.domain == domain) return &e.route;
  return nullptr;
}

std::optional<Route> SmtpRoutes::find(std::string_view host) const {
  std::string h = str::lower(host);
  if (const Route* r = exact(h)) return *r;
  for (std::size_t i = 0; i < h.size(); ++i)
    if (h[i] == '.')
      if (const Route* r = exact(std::string_view(h).substr(i))) return *r;
  if (const Route* r = exact("")) return *r;
  return std::nullopt;
}

}  // namespace qmail::remote
