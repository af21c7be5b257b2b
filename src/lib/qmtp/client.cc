#include "qmtp/client.h"

#include <sys/socket.h>

#include <cerrno>

#include "io/io.h"
#include "qmtp/netstring.h"

namespace qmail::qmtp {

Result<net::Endpoint> parse_server(std::string_view line) {
  std::string_view host = line;
  std::uint16_t port = kQmqpPort;
  auto bad = [&] { return Status::perm("bad qmqpservers line: " + std::string(line)); };
  if (!line.empty() && line[0] == '[') {
    std::size_t close = line.find(']');
    if (close == std::string_view::npos) return bad();
    host = line.substr(1, close - 1);
    std::string_view rest = line.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return bad();
      auto p = net::parse_numeric_port(rest.substr(1));
      if (!p.is_ok()) return bad();
      port = *p;
    }
  } else if (std::size_t colon = line.find(':');
             colon != std::string_view::npos &&
             line.find(':', colon + 1) == std::string_view::npos) {
    host = line.substr(0, colon);  // exactly one ':' means IPv4:port
    auto p = net::parse_numeric_port(line.substr(colon + 1));
    if (!p.is_ok()) return bad();
    port = *p;
  }
  auto e = net::parse_numeric_ip(host, port);
  if (!e.is_ok()) return bad();
  return e;
}

std::string package(std::string_view message, const queue::Envelope& env) {
  std::string inner = encode(message);
  inner += encode(env.sender);
  for (const auto& r : env.recipients) inner += encode(r);
  return encode(inner);
}

int send(const std::vector<net::Endpoint>& servers, std::string_view pkg, std::string* why) {
  int code = 73;
  *why = "no QMQP servers";
  for (const auto& server : servers) {
    auto conn = net::connect_tcp(server, kConnectTimeout);
    if (!conn.is_ok()) {
      code = conn.status().err() == ETIMEDOUT ? 72 : 73;
      *why = conn.status().message();
      continue;
    }
    (void)net::set_timeouts(conn->get(), kIoTimeout);
    io::Reader in(conn->get(), 4096);
    Status st = io::write_all(conn->get(), pkg);
    Result<std::string> answer = Status::temp("no answer");
    if (st.is_ok()) answer = read(in, kMaxResponse);
    // No answer from this server: it took nothing, so the next may.
    if (!st.is_ok() || !answer.is_ok()) {
      const Status& s = st.is_ok() ? answer.status() : st;
      code = (s.err() == EAGAIN || s.err() == EWOULDBLOCK) ? 72 : 74;
      *why = server.to_string() + ": " + s.message();
      continue;
    }
    if (answer->empty()) {
      code = 74;
      *why = server.to_string() + ": empty answer";
      continue;
    }
    *why = answer->substr(1);
    switch ((*answer)[0]) {
      case 'K':
        return 0;
      case 'D':
        return 31;
      case 'Z':
        return 71;
      default:
        code = 74;
        *why = server.to_string() + ": bad answer";
    }
  }
  return code;
}

}  // namespace qmail::qmtp
