// qmail-remote (qmail-remote(8)): delivers one message to one or more
// recipients at one remote host by SMTP and reports in qmail's format on
// fd 1: per recipient "r" (accepted), "h" (permanent rejection) or "s"
// (temporary rejection), then "K" (success), "Z" (temporary failure) or
// "D" (permanent failure) for the message; each record is a letter, human
// text and a 0 byte. The program always exits 0 once it has its arguments.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "dns/dns.h"

namespace qmail::remote {

// One address to try, in order.
struct Target {
  std::uint32_t pref = 0;
  dns::IpAddr ip;
  std::uint16_t port = 25;
  std::string name;  // the MX or relay name, for the TLS certificate check
};

// An MX (or the host itself, pref 0, when it has no MX) with its addresses.
struct MxHost {
  std::uint32_t pref = 0;
  std::string name;
  std::vector<dns::IpAddr> ips;
  bool is_me = false;  // named like us (control/me, "localhost")
};

// Shuffles hosts of equal preference (RFC 5321 5.1) and sorts by it.
void order_mx(std::vector<dns::Mx>& mxs, std::mt19937& rng);

// qmail-remote(8)'s rule against delivering to ourselves: if one of our
// own addresses (`is_me`) or names is among the hosts, only hosts with a
// strictly better (lower) preference are used, and none left is a
// permanent error (the "Although I'm listed as a best-preference MX"
// report). `hosts` must be in the order to try. Returns the targets.
Result<std::vector<Target>> choose_targets(const std::vector<MxHost>& hosts, std::uint16_t port,
                                           const std::function<bool(const dns::IpAddr&)>& is_me);

// Parses qmail-remote's host argument as an address literal: "[1.2.3.4]",
// "[IPv6:2001:db8::1]" (RFC 5321 4.1.3) or "[2001:db8::1]".
std::optional<dns::IpAddr> parse_literal(std::string_view host);

// control/tlsdestinations: lines "domain" or "domain:cafile", matched like
// smtproutes (exact, ".suffix", "" for all). A match requires STARTTLS with
// a certificate that verifies (against `cafile`, or the system's CAs) and
// names the MX or relay. Returns the CA file ("" = system) or nullopt.
std::optional<std::string> tls_destination(const std::vector<std::string>& lines,
                                           std::string_view host);

// Our own addresses: every interface's, plus 127.0.0.1 and ::1.
std::vector<dns::IpAddr> local_addresses();

// The whole program after argument checks: `args` is argv (program, host,
// sender, recipients...), the message is read from `in_fd` and the report
// written to `out_fd`. Returns the exit code: always 0, as qmail-remote(8) says.
int run(std::span<char*> args, int in_fd, int out_fd);

// Connection reuse, for qmail-rspawn's remote workers (spawn/rpool.h):
// one process delivers message after message and keeps the SMTP session of
// a finished transaction open (no QUIT) for the next message to the same
// target. The next message on it starts with MAIL (RFC 5321 3.3), after an
// RSET only if the earlier transaction was left open. A session is reused
// only for the same target (address, port, MX or relay name), helohost and
// control/tlsdestinations requirement; it carries at most
// kSessionMaxMessages messages and is closed after kSessionIdleSeconds
// idle. If a reused session fails before any recipient is accepted (EOF,
// I/O error, 421), the message goes over a new connection instead: nothing
// was delivered on the old one.
inline constexpr int kSessionIdleSeconds = 2;
inline constexpr unsigned kSessionMaxMessages = 100;
// Write timeout for the QUIT of a session that is given up.
inline constexpr int kSessionQuitSeconds = 2;

class Sessions {
 public:
  Sessions();
  ~Sessions();
  Sessions(const Sessions&) = delete;
  Sessions& operator=(const Sessions&) = delete;

  // Delivers the message on `in_fd` (a regular file, read from its
  // current offset) like run() and returns the report bytes.
  std::string deliver(std::string_view host, std::string_view sender, std::span<char* const> rcpts,
                      int in_fd);
  // The kept session's socket (to watch while idle), or -1.
  int fd() const;
  // The host argument (lower case) of its last message, or "".
  std::string domain() const;
  // When it has been idle long enough to be closed; nullopt without one.
  std::optional<std::chrono::steady_clock::time_point> expires() const;
  // Closes the kept session, after a QUIT (not awaited) if `quit`.
  void close(bool quit = true);

  struct Kept;
  struct State;

 private:
  std::unique_ptr<State> state_;
};

// qmail-remote's main body: run(args, 0, 1). qmail-rspawn calls it in its
// forked child instead of exec'ing bin/qmail-remote (spawn/builtin.h).
int remote_main(std::span<char*> args);

}  // namespace qmail::remote
