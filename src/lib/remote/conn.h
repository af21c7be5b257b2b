// A client TCP connection with a timeout on every connect, read and write
// (qmail-control(5): timeoutconnect, timeoutremote), reading SMTP replies
// line by line within the bounds of reply.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "dns/dns.h"
#include "io/fd.h"
#include "remote/reply.h"
#include "tls/tls.h"

namespace qmail::remote {

class Conn {
 public:
  // Connects to ip:port within `timeout_s` seconds. Errors are temp with
  // err() == ETIMEDOUT for a timeout, else the connect errno.
  static Result<Conn> open(const dns::IpAddr& ip, std::uint16_t port, int timeout_s);

  // Writes all of `data`, waiting at most `timeout_s` for each chunk.
  // Errors: temp; err() == ETIMEDOUT on timeout.
  Status write(std::string_view data, int timeout_s);
  // Reads one whole reply, waiting at most `timeout_s` for each read.
  // Errors: temp on EOF/I-O (err() ETIMEDOUT on timeout), perm for a
  // malformed or oversized reply.
  Result<Reply> read_reply(int timeout_s);

  // STARTTLS (RFC 3207) after the server's 220: the client handshake, with
  // SNI and certificate check for `host_name`. Later reads and writes are
  // encrypted. Errors: temp.
  Status start_tls(SSL_CTX* ctx, const std::string& host_name, int timeout_s);
  bool tls() const { return tls_.has_value(); }
  // Did the certificate verify (see tls::Connection::server_verified)?
  bool tls_verified() const { return tls_ && tls_->server_verified(); }
  std::string tls_version() const { return tls_ ? tls_->version() : ""; }

  int fd() const { return fd_.get(); }

  // For a kept session: true if nothing has arrived since the last reply
  // (no buffered bytes, socket not readable). Anything else (EOF, a 421
  // notice) means the server is closing it.
  bool idle_ok() const;

 private:
  explicit Conn(Fd fd) : fd_(std::move(fd)) {}
  Result<std::string> read_line(int timeout_s);
  Fd fd_;
  std::string buf_;
  std::optional<tls::Connection> tls_;
};

}  // namespace qmail::remote
