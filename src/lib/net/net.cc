#include "net/net.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/scope_guard.h"
#include "base/strings.h"

namespace qmail::net {

std::uint16_t Endpoint::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
  if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port);
  return 0;
}

std::string Endpoint::ip() const {
  char buf[INET6_ADDRSTRLEN];
  if (family() == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    if (!::inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf)) return "unknown";
    return buf;
  }
  if (family() == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
      if (!::inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], buf, sizeof buf)) return "unknown";
      return buf;
    }
    if (!::inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf)) return "unknown";
    return buf;
  }
  return "unknown";
}

std::string Endpoint::to_string() const {
  std::string ipstr = ip();
  if (ipstr.find(':') != std::string::npos) ipstr = "[" + ipstr + "]";
  return ipstr + ":" + std::to_string(port());
}

Result<std::uint16_t> parse_numeric_port(std::string_view s) {
  auto v = str::parse_uint(s, 65535);
  if (!v) return Status::perm("bad port: " + std::string(s));
  return static_cast<std::uint16_t>(*v);
}

namespace {

// For error messages: control bytes become '?'.
std::string safe_text(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 32 || c == 127) c = '?';
  return out;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A host name worth asking the resolver about: labels of letters, digits,
// '-' and '_', at least one letter (so a mistyped address such as 1.2.3
// is no name), at most one trailing dot.
bool looks_like_name(std::string_view s) {
  if (s.empty() || s.size() > 253 || s[0] == '.' || s[0] == '-') return false;
  bool letter = false;
  char prev = 0;
  for (char c : s) {
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    bool ok = alpha || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok || (c == '.' && prev == '.')) return false;
    letter = letter || alpha;
    prev = c;
  }
  return letter;
}

}  // namespace

Result<std::uint16_t> parse_port(std::string_view s) {
  if (s.empty() || all_digits(s)) return parse_numeric_port(s);
  std::string name(s);
  if (name.find('\0') != std::string::npos) return Status::perm("bad port: " + safe_text(s));
  // /etc/services through the system's nsswitch.conf; the port is in
  // network byte order.
  const servent* se = ::getservbyname(name.c_str(), "tcp");
  if (!se) return Status::perm("bad port: no TCP service " + safe_text(s) + " in /etc/services");
  return static_cast<std::uint16_t>(ntohs(static_cast<std::uint16_t>(se->s_port)));
}

Result<Endpoint> parse_ip(std::string_view host, std::uint16_t port) {
  auto numeric = parse_numeric_ip(host, port);
  if (numeric.is_ok() || !looks_like_name(host)) return numeric;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  // No AI_ADDRCONFIG: an offline host (loopback only) must still resolve
  // localhost. The port is ours, numeric.
  hints.ai_flags = AI_NUMERICSERV;
  std::string name(host);
  std::string service = std::to_string(port);
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(name.c_str(), service.c_str(), &hints, &res);
  if (rc != 0) {
    std::string why = "unable to resolve " + name + ": " + ::gai_strerror(rc);
    if (rc == EAI_AGAIN) return Status::temp(why);
    if (rc == EAI_SYSTEM) return Status::temp_errno(why);
    return Status::perm("bad address: " + why);
  }
  ScopeGuard free_res([res] { ::freeaddrinfo(res); });
  for (const addrinfo* a = res; a; a = a->ai_next) {
    if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
        a->ai_addrlen > sizeof(sockaddr_storage))
      continue;
    Endpoint e;
    std::memcpy(&e.ss, a->ai_addr, a->ai_addrlen);
    e.len = a->ai_addrlen;
    return e;
  }
  return Status::perm("bad address: " + name + " has no IPv4 or IPv6 address");
}

Result<Endpoint> parse_numeric_ip(std::string_view host, std::uint16_t port) {
  Endpoint e;
  std::string h(host);
  if (h == "0") h = "0.0.0.0";
  if (h.find('\0') != std::string::npos) return Status::perm("bad address");
  auto* a4 = reinterpret_cast<sockaddr_in*>(&e.ss);
  if (::inet_pton(AF_INET, h.c_str(), &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    e.len = sizeof(sockaddr_in);
    return e;
  }
  e = Endpoint();
  auto* a6 = reinterpret_cast<sockaddr_in6*>(&e.ss);
  if (::inet_pton(AF_INET6, h.c_str(), &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    e.len = sizeof(sockaddr_in6);
    return e;
  }
  return Status::perm("bad address: " + safe_text(h));
}

Result<Fd> listen_tcp(const Endpoint& at, int backlog) {
  Fd s(::socket(at.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!s.valid()) return Status::temp_errno("unable to create socket");
  int one = 1, zero = 0;
  if (::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
    return Status::temp_errno("unable to set SO_REUSEADDR");
  }
  if (at.family() == AF_INET6) {
    // "::" serves IPv4 clients too (they show up as IPv4 addresses).
    (void)::setsockopt(s.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  }
  if (::bind(s.get(), reinterpret_cast<const sockaddr*>(&at.ss), at.len) != 0) {
    return Status::temp_errno("unable to bind " + at.to_string());
  }
  if (::listen(s.get(), backlog) != 0) return Status::temp_errno("unable to listen");
  return s;
}

static Result<Endpoint> get_name(int fd, bool peer) {
  Endpoint e;
  e.len = sizeof e.ss;
  int r = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&e.ss), &e.len)
               : ::getsockname(fd, reinterpret_cast<sockaddr*>(&e.ss), &e.len);
  if (r != 0)
    return Status::temp_errno(peer ? "unable to get peer name" : "unable to get local name");
  return e;
}

Result<Endpoint> local_endpoint(int fd) { return get_name(fd, false); }
Result<Endpoint> peer_endpoint(int fd) { return get_name(fd, true); }

Result<Fd> connect_tcp(const Endpoint& to, int timeout_seconds) {
  Fd s(::socket(to.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!s.valid()) return Status::temp_errno("unable to create socket");
  if (::connect(s.get(), reinterpret_cast<const sockaddr*>(&to.ss), to.len) != 0) {
    if (errno != EINPROGRESS) return Status::temp_errno("unable to connect to " + to.to_string());
    pollfd p{s.get(), POLLOUT, 0};
    int r;
    do {
      r = ::poll(&p, 1, timeout_seconds * 1000);
    } while (r < 0 && errno == EINTR);
    if (r < 0) return Status::temp_errno("poll");
    if (r == 0) return Status::temp_errno("unable to connect to " + to.to_string(), ETIMEDOUT);
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) return Status::temp_errno("unable to connect to " + to.to_string(), err);
  }
  int flags = ::fcntl(s.get(), F_GETFL);
  if (flags < 0 || ::fcntl(s.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) {
    return Status::temp_errno("fcntl");
  }
  return s;
}

bool set_timeouts(int fd, int seconds) {
  timeval tv{};
  tv.tv_sec = seconds;
  bool ok = ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0;
  ok = ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == 0 && ok;
  return ok;
}

std::vector<std::pair<std::string, std::optional<std::string>>> tcp_environ(const Connection& c) {
  return {
      {"PROTO", "TCP"},
      {"TCPLOCALIP", c.local.ip()},
      {"TCPLOCALPORT", std::to_string(c.local.port())},
      {"TCPLOCALHOST", c.local_host},
      {"TCPREMOTEIP", c.remote.ip()},
      {"TCPREMOTEPORT", std::to_string(c.remote.port())},
      {"TCPREMOTEHOST", c.remote_host},
      {"TCPREMOTEINFO", c.remote_info},
  };
}

}  // namespace qmail::net
