// qmail-qmqpd: receive mail via QMQP. See qmail-qmqpd(8).
#include <span>

#include "base/run_program.h"
#include "base/status.h"
#include "net/net.h"
#include "qmtp/server.h"

namespace {

qmail::Status body(std::span<char*>) {
  QMAIL_ASSIGN_OR_RETURN(qmail::qmtp::ServerConfig config, qmail::qmtp::load_config(false));
  // Per-read and per-write timeouts (control/timeoutsmtpd) when fds 0
  // and 1 are a socket, as under qmail-tcpsrv.
  (void)qmail::net::set_timeouts(0, static_cast<int>(config.timeout));
  (void)qmail::net::set_timeouts(1, static_cast<int>(config.timeout));
  return qmail::qmtp::serve_qmqp(config, 0, 1);
}

}  // namespace

int main(int argc, char** argv) { return qmail::run_program("qmail-qmqpd", argc, argv, body); }
