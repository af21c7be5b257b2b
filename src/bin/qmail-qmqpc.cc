// qmail-qmqpc: qmail-queue's interface, but the message goes to a QMQP
// server from control/qmqpservers (mini-qmail). See qmail-qmqpc(8).
#include <span>
#include <string>
#include <vector>

#include "base/exit_codes.h"
#include "base/log.h"
#include "base/run_program.h"
#include "home/home.h"
#include "io/io.h"
#include "qmtp/client.h"
#include "queue/envelope.h"

namespace {

// qmail-queue(8)'s envelope is small next to the message; this bounds it.
constexpr std::size_t kMaxEnvelope = 16 * 1024 * 1024;

int body(std::span<char*>) {
  using namespace qmail;
  auto message = io::read_all(0, qmtp::kMaxClientMessage);
  if (!message.is_ok()) {
    log::warn(message.status().message());
    return message.status().is_perm() ? queue_exit::kMessageTooLong : queue_exit::kReadError;
  }
  auto raw = io::read_all(1, kMaxEnvelope);
  if (!raw.is_ok()) return queue_exit::kReadError;
  auto env = queue::parse_envelope(*raw);
  if (!env.is_ok()) {
    return env.status().is_perm() ? queue_exit::kAddressTooLong : queue_exit::kEnvelopeFormat;
  }
  auto lines = control::read_lines("qmqpservers");
  if (!lines.is_ok()) {
    log::warn(lines.status().message());
    return queue_exit::kConfigError;
  }
  std::vector<net::Endpoint> servers;
  for (const auto& l : *lines) {
    auto e = qmtp::parse_server(l);
    if (!e.is_ok()) {
      log::warn(e.status().message());
      return queue_exit::kConfigError;
    }
    servers.push_back(*e);
  }
  if (servers.empty()) {
    log::warn("control/qmqpservers has no servers");
    return queue_exit::kConfigError;
  }
  std::string why;
  int code = qmtp::send(servers, qmtp::package(*message, *env), &why);
  if (code != 0) log::warn(why);
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  return qmail::run_program("qmail-qmqpc", argc, argv, body, qmail::queue_exit::kOutOfMemory);
}
