// The servers of QMTP (qmail-qmtpd(8), cr.yp.to/proto/qmtp.txt) and QMQP
// (qmail-qmqpd(8), cr.yp.to/proto/qmqp.html): netstring-framed packages
// read with bounds, each message queued through qmail-queue.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "smtp/policy.h"

namespace qmail::qmtp {

// One envelope address (sender or recipient) is at most this long: the
// bound qmail-queue enforces (exit 11), so longer ones could never queue.
inline constexpr std::size_t kMaxAddress = 1000;
// QMTP: the recipient list of one package, as encoded, is at most 1 MB
// (about 10,000 ordinary addresses; a limit qmail lacks).
inline constexpr std::uint64_t kMaxRecipientList = 1024 * 1024;
// Default per-read timeout in seconds (qmail-smtpd's timeoutsmtpd).
inline constexpr unsigned kDefaultTimeout = 1200;

struct ServerConfig {
  std::uint64_t databytes = 0;  // QMTP: control/databytes or $DATABYTES
  unsigned timeout = kDefaultTimeout;
  smtp::RcptHosts rcpthosts;               // QMTP only
  std::optional<std::string> relayclient;  // $RELAYCLIENT
  std::string remoteip = "unknown";        // $TCPREMOTEIP
  std::string remotehost = "unknown";      // $TCPREMOTEHOST
  std::string remoteinfo;                  // $TCPREMOTEINFO
  std::string localhost = "unknown";       // $TCPLOCALHOST, else $TCPLOCALIP
};

// Reads the environment, and for QMTP control/databytes, rcpthosts,
// morercpthosts.cdb and timeoutsmtpd. Errors: temp (unreadable controls).
Result<ServerConfig> load_config(bool qmtp);

// QMTP: serves packages until the client closes the connection. Each
// recipient gets one response: K (queued), Z (temporary) or D (permanent).
// Errors: perm for a protocol violation (the connection is dropped, nothing
// is queued for the broken package), temp for I/O trouble or a timeout.
Status serve_qmtp(const ServerConfig& config, int rfd, int wfd);

// QMQP: reads one package and answers with one K/Z/D netstring. qmail-qmqpd
// relays anywhere: it is for preauthorized clients only.
Status serve_qmqp(const ServerConfig& config, int rfd, int wfd);

}  // namespace qmail::qmtp
