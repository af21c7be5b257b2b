// The QMQP client side (qmail-qmqpc(8)): hand a message and its envelope
// to the first QMQP server in control/qmqpservers that takes a connection.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "net/net.h"
#include "queue/envelope.h"

namespace qmail::qmtp {

// QMQP's port (qmqp.html).
inline constexpr std::uint16_t kQmqpPort = 628;
// qmail-qmqpc holds the whole message in memory to send its length first;
// a bigger message is refused with qmail-queue's permanent exit 31.
inline constexpr std::size_t kMaxClientMessage = 256 * 1024 * 1024;
// Seconds to wait for a connection, and for each read or write after it.
inline constexpr int kConnectTimeout = 10;
inline constexpr int kIoTimeout = 60;
// The server's answer is short text; anything longer is broken.
inline constexpr std::uint64_t kMaxResponse = 4096;

// One control/qmqpservers line: "1.2.3.4", "1.2.3.4:port", "::1",
// "[::1]:port". Errors: perm "bad qmqpservers line".
Result<net::Endpoint> parse_server(std::string_view line);

// The QMQP package: netstring(netstring(message) netstring(sender)
// netstring(rcpt)...).
std::string package(std::string_view message, const queue::Envelope& env);

// Tries each server in turn. Returns a qmail-queue(8) exit code: 0 on K,
// 31 on D, 71 on Z, or, when no server gave an answer, 72 (timed out),
// 73 (connection refused) or 74 (communication failed). `why` gets the
// server's text or the last error.
int send(const std::vector<net::Endpoint>& servers, std::string_view pkg, std::string* why);

}  // namespace qmail::qmtp
