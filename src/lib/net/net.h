// TCP socket helpers for qmail's network programs (qmail-tcpsrv,
// qmail-qmqpc): IPv4/IPv6 addresses and host and service names, listening, connecting with a
// timeout, address formatting, and the tcp-environ(5) variables.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "io/fd.h"

namespace qmail::net {

// One socket address (IPv4 or IPv6) with a port.
struct Endpoint {
  sockaddr_storage ss{};
  socklen_t len = 0;

  int family() const { return ss.ss_family; }
  std::uint16_t port() const;
  // The address as text: dotted quad for IPv4 and for IPv4-mapped IPv6
  // (::ffff:a.b.c.d shows as a.b.c.d, as ucspi-tcp-ipv6 does), otherwise
  // RFC 5952 compressed lowercase IPv6.
  std::string ip() const;
  // "ip:port", with the IPv6 address in brackets ("[::1]:25").
  std::string to_string() const;
};

// Parses a numeric address: "0" (any IPv4 address, as tcpserver(1) says),
// a dotted quad, or an IPv6 address ("::" = any, dual-stack when listening).
// No lookups. Errors: perm "bad address".
Result<Endpoint> parse_numeric_ip(std::string_view host, std::uint16_t port);
// Parses a decimal port 0..65535. Errors: perm.
Result<std::uint16_t> parse_numeric_port(std::string_view s);

// tcpserver(1)'s host argument: a numeric address as parse_numeric_ip
// takes it, or else a host name (letters, digits, '-', '_' and '.'),
// resolved with getaddrinfo (as nsswitch.conf says: usually /etc/hosts,
// then DNS) to its first address in the system's order.
// Errors: perm for a bad or unknown name, temp when the lookup failed
// for now.
Result<Endpoint> parse_ip(std::string_view host, std::uint16_t port);
// tcpserver(1)'s port argument: a decimal number as parse_numeric_port
// takes it, or else a TCP service name from /etc/services ("smtp").
// Errors: perm.
Result<std::uint16_t> parse_port(std::string_view s);

// A listening TCP socket bound to `at` (SO_REUSEADDR, close-on-exec and
// non-blocking; IPv6 sockets also accept IPv4 connections).
// Errors: temp with errno.
Result<Fd> listen_tcp(const Endpoint& at, int backlog);
// The address a socket is bound to / connected to. Errors: temp.
Result<Endpoint> local_endpoint(int fd);
Result<Endpoint> peer_endpoint(int fd);
// Connects to `to`, giving up after `timeout_seconds`. The result is a
// blocking, close-on-exec socket. Errors: temp with errno (ETIMEDOUT).
Result<Fd> connect_tcp(const Endpoint& to, int timeout_seconds);
// Sets SO_RCVTIMEO and SO_SNDTIMEO so a blocked read/write on the socket
// fails with EAGAIN after `seconds`. Returns false if `fd` is no socket.
bool set_timeouts(int fd, int seconds);

// tcp-environ(5) for one connection. Unknown names (no DNS, no ident)
// are nullopt: the variable is then removed from the environment, as
// tcpserver(1) does.
struct Connection {
  Endpoint local, remote;
  std::optional<std::string> local_host, remote_host, remote_info;
};
// (name, value) pairs to set, value nullopt = unset: PROTO=TCP,
// TCPLOCALIP, TCPLOCALPORT, TCPLOCALHOST, TCPREMOTEIP, TCPREMOTEPORT,
// TCPREMOTEHOST, TCPREMOTEINFO. IPv6 addresses go into the same TCP*
// variables (PROTO stays TCP) so qmail-smtpd reads one set of names.
std::vector<std::pair<std::string, std::optional<std::string>>> tcp_environ(const Connection& c);

}  // namespace qmail::net
