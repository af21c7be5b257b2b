// qmail-smtpd's server side: one SMTP session on a ucspi connection
// (qmail-smtpd(8), tcp-environ(5), RFC 5321 with PIPELINING, 8BITMIME,
// SIZE, ENHANCEDSTATUSCODES, STARTTLS and SMTPUTF8). Messages stream to
// qmail-queue; memory per session is fixed.
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "smtp/policy.h"
#include "tls/tls.h"

namespace qmail::smtp {

// Everything a session needs, from control files and the environment.
struct Config {
  std::string greeting;     // control/smtpgreeting, default control/me
  std::string me;           // control/me (required)
  std::string localiphost;  // control/localiphost, default me
  std::string envnoathost;  // control/envnoathost, default me
  std::uint64_t databytes = 0;
  std::uint64_t maxrcpt = 0;
  unsigned timeout = 0;  // control/timeoutsmtpd
  RcptHosts rcpthosts;
  BadMailFrom badmailfrom;
  Recipients recipients;  // control/recipients.cdb (validation if present)
  LocalIps localips;
  std::optional<std::string> relayclient;   // $RELAYCLIENT
  std::string remoteip = "unknown";         // $TCPREMOTEIP
  std::string remotehost = "unknown";       // $TCPREMOTEHOST
  std::string remoteinfo;                   // $TCPREMOTEINFO
  std::string localhost = "unknown";        // $TCPLOCALHOST, else $TCPLOCALIP
  std::unique_ptr<tls::ServerContext> tls;  // control/servercert.pem loaded
  // control/tlsclients (lower-cased), if it exists: a verified client
  // certificate lets the client relay only when one of its e-mail
  // addresses is listed. Without the file every verified client may relay.
  std::optional<std::vector<std::string>> tlsclients;
  bool smtps = false;  // $SMTPS non-empty: TLS at once
};

// qmail-smtpd(8) databytes: $DATABYTES, else control/databytes, else 0;
// 0 and anything above kMaxDatabytes mean kMaxDatabytes (limits.h).
// Errors: temp for an unreadable file or a $DATABYTES that is no number.
// Shared with qmail-qmtpd.
Result<std::uint64_t> load_databytes();

// Reads the control files and the tcp-environ(5) variables. Errors: temp
// for unreadable control files; perm when control/me is missing.
Result<Config> load_config();

// Serves one session on rfd/wfd until QUIT, EOF, timeout or too many
// errors. Errors only for trouble the client is not to blame for.
Status serve(Config& config, int rfd, int wfd);

namespace detail {
// set_on_session_end's function (smtp/main.h).
inline void (*g_on_session_end)() = nullptr;
}  // namespace detail

// The Received line qmail-smtpd puts first in each message, e.g.
//   Received: from helo (HELO x) (info@host [1.2.3.4])
//     by local with ESMTPS; 22 Nov 2026 00:30:45 -0000
// as qmail's received.c shapes it: "(HELO x)" only when the HELO argument
// differs from the remote host name (case-insensitively), "info@" only
// with $TCPREMOTEINFO. `proto` is RFC 3848's SMTP / ESMTP / ESMTPS /
// ESMTPA.. or RFC 6531's UTF8SMTP / UTF8SMTPS. Peer-supplied text is
// reduced to safe characters (others become '?').
std::string received_line(std::string_view helo, std::string_view remotehost,
                          std::string_view remoteinfo, std::string_view remoteip,
                          std::string_view local, std::string_view proto, std::time_t now);

// Formats one reply: `text` may carry qmail's "(#x.y.z)"; with `enhanced`
// that code is also put after the reply code (RFC 2034), e.g.
// "553 5.7.1 sorry, ... (#5.7.1)\r\n". Multi-line with '\n' in text.
std::string format_reply(int code, std::string_view text, bool enhanced = true);

}  // namespace qmail::smtp
