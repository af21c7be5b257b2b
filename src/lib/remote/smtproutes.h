// control/smtproutes (qmail-remote(8)): lines "domain:relay[:port]".
// An empty domain matches every host; ".suffix" matches hosts ending in
// it (not the suffix itself); an empty relay means "look up MX records as
// usual" (a port still applies: our extension, see qmail-remote(8)).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace qmail::remote {

inline constexpr std::uint16_t kSmtpPort = 25;
// A route to this port speaks SMTP inside TLS from the start (RFC 8314
// implicit TLS, the TLS patch's "smtps"), not STARTTLS.
inline constexpr std::uint16_t kSmtpsPort = 465;

struct Route {
  std::string relay;  // host name, "[1.2.3.4]", "[2001:db8::1]"; "" = use MX
  std::uint16_t port = kSmtpPort;
};

class SmtpRoutes {
 public:
  // Parses the file's text. Empty lines and '#' comments are skipped; for
  // a domain listed twice the first line wins. Errors (temp: the admin
  // can fix the file and the mail waits): a line without ':', a bad port,
  // an unclosed '[' literal.
  static Result<SmtpRoutes> parse(std::string_view text);
  // The route for `host` (case-insensitive): the exact domain, then each
  // ".suffix" from longest to shortest, then the "" catch-all.
  std::optional<Route> find(std::string_view host) const;
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string domain;  // lower case
    Route route;
  };
  std::vector<Entry> entries_;
  const Route* exact(std::string_view domain) const;
};

}  // namespace qmail::remote
