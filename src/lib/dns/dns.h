// DNS for qmail-remote: MX and address lookups through libunbound (see
// docs/remote.md for why), plus the pure parsers of the record data it
// returns, which tests and fuzzers drive without a network.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace qmail::dns {

// An IPv4 or IPv6 address (no scope, no port).
struct IpAddr {
  int family = 0;                        // AF_INET or AF_INET6
  std::array<std::uint8_t, 16> bytes{};  // IPv4 uses the first 4

  // "1.2.3.4" or "2001:db8::1" (inet_ntop's form).
  std::string str() const;
  // Parses a dotted IPv4 or a textual IPv6 address; nullopt on anything else.
  static std::optional<IpAddr> parse(std::string_view text);
  static IpAddr v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d);
  bool operator==(const IpAddr&) const = default;
};

struct Mx {
  std::uint16_t pref = 0;
  std::string host;  // lower case, no trailing dot; "" is the root (null MX)
};

// RFC 1035 3.1: a name is at most 255 octets, a label at most 63.
inline constexpr std::size_t kMaxName = 255;
inline constexpr std::size_t kMaxLabel = 63;

// Decodes an uncompressed wire-format name (as libunbound hands out rdata)
// at the start of `wire` into dotted lower-case text without the final dot;
// the root is "". nullopt if it is malformed, runs past `wire`, or has a
// label containing a dot, a control byte or a space (no mail host has one).
// `used` receives the octets consumed.
std::optional<std::string> parse_name(std::string_view wire, std::size_t* used = nullptr);
// RFC 1035 3.3.9: MX rdata is a 16-bit preference and a name.
std::optional<Mx> parse_mx_rdata(std::string_view rdata);
// A (4 octets) and AAAA (16 octets) rdata.
std::optional<IpAddr> parse_a_rdata(std::string_view rdata);
std::optional<IpAddr> parse_aaaa_rdata(std::string_view rdata);
// RFC 1035 3.3.14: TXT rdata is one or more <character-string>s (a length
// octet, then that many octets); the text is their concatenation, as
// rblsmtpd(1) uses it. nullopt if a string runs past the end or there is
// none.
std::optional<std::string> parse_txt_rdata(std::string_view rdata);
// The name under which `ip` is listed in `zone`: "d.c.b.a.zone" for IPv4
// and the 32 reversed nibbles for IPv6 (RFC 5782 2.1, 2.4); zone
// "in-addr.arpa" / "ip6.arpa" gives the PTR name (RFC 1035 3.5, RFC 3596).
std::string reverse_name(const IpAddr& ip, std::string_view zone);

// Loads libunbound (dlopen) if it is not loaded yet; Resolver::create
// does this itself. A program that forks children which will resolve
// calls it first, so they share one loaded copy instead of relocating
// one each. Errors: temp, when the library cannot be loaded.
Status load_library();

// What a lookup found. An NXDOMAIN is a permanent error; SERVFAIL, a
// timeout or no reachable server are temporary; "the name exists but has
// no such records" is ok with an empty list.
class Resolver {
 public:
  // `forwarders` ("1.2.3.4" or "1.2.3.4@5353"): ask these servers. Empty:
  // use the nameservers of /etc/resolv.conf, or resolve from the root
  // when it names none. Errors: temp when libunbound cannot be set up.
  static Result<std::unique_ptr<Resolver>> create(const std::vector<std::string>& forwarders);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // MX records of `name`, in the order the server gave them.
  Result<std::vector<Mx>> mx(std::string_view name);
  // AAAA then A records of `name` (after CNAMEs, which libunbound follows).
  Result<std::vector<IpAddr>> ip(std::string_view name);
  // TXT records of `name`, each as parse_txt_rdata gives it (for RBLs).
  Result<std::vector<std::string>> txt(std::string_view name);
  // A records of `name` only (anti-RBL lookups).
  Result<std::vector<IpAddr>> a(std::string_view name);
  // PTR names of `ip` (lower case, no trailing dot).
  Result<std::vector<std::string>> ptr(const IpAddr& ip);
  // Stops answering `zone` (e.g. "127.in-addr.arpa.") from libunbound's
  // built-in local data, so the forwarders are asked instead. Errors: temp.
  Status drop_local_zone(std::string_view zone);

 private:
  struct Impl;
  explicit Resolver(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace qmail::dns
