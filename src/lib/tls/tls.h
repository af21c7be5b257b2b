// The project's one TLS layer, on OpenSSL: a server context made from
// qmail control files (qmail-smtpd now; POP3 and qmail-remote later) and
// a TLS connection over a pair of descriptors (ucspi: read fd 0, write
// fd 1) with a timeout on every wait.
//
// Policy (docs/smtpd.md): TLS 1.2 and 1.3 only; for TLS 1.2 only ECDHE and
// DHE key exchange with AEAD ciphers; no compression, no renegotiation, no
// session tickets or cache (one process per connection).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace qmail::tls {

// Errors from reads and writes that waited too long carry this errno.
inline constexpr int kTimedOut = 110;  // ETIMEDOUT on Linux

class ServerContext {
 public:
  ServerContext(ServerContext&&) noexcept;
  ServerContext& operator=(ServerContext&&) noexcept;
  ~ServerContext();

  // Loads `cert_path`, a PEM file holding the certificate, any
  // intermediate certificates after it, and the private key (one file, as
  // the common qmail TLS patch does). If `clientca_path` is non-empty and
  // exists, clients are asked for a certificate, which is verified
  // against those CAs (see Connection::client_verified). Errors: temp,
  // with OpenSSL's reason.
  //
  // As in the qmail TLS patch: if `clientcrl_path` is non-empty and exists,
  // client certificates are also checked against those CRLs (one for each
  // CA); a non-empty `ciphers` (OpenSSL cipher names, ':'-separated, from
  // control/tlsserverciphers or $TLSCIPHERS) narrows the TLS 1.2 suites to
  // those of our policy it names, in its order. It never widens the policy;
  // naming none of its suites is an error. TLS 1.3 suites are unaffected.
  static Result<ServerContext> load(const std::string& cert_path,
                                    const std::string& clientca_path = "",
                                    const std::string& clientcrl_path = "",
                                    const std::string& ciphers = "");
  SSL_CTX* get() const { return ctx_; }
  // Another handle on the same OpenSSL context (reference counted), for a
  // process that serves many connections with what it loaded once.
  ServerContext share() const;

 private:
  explicit ServerContext(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_ = nullptr;
};

class Connection {
 public:
  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  ~Connection();

  // Runs the server handshake on `rfd`/`wfd` (both must be non-blocking;
  // they may be the same socket). Each wait for the peer is bounded by
  // `timeout_seconds`. Errors: temp (err() == kTimedOut on timeout).
  static Result<Connection> accept(const ServerContext& ctx, int rfd, int wfd, int timeout_seconds);
  // Client side (tls/client.h): runs the client handshake on socket `fd`
  // (non-blocking) with SNI and a certificate check for `host_name`
  // ("" for neither; an address, bare or as a [literal], gets no SNI and
  // is checked against the certificate's IP addresses).
  // Errors: temp (kTimedOut on timeout).
  static Result<Connection> connect(SSL_CTX* ctx, int fd, const std::string& host_name,
                                    int timeout_seconds);
  // Client side: did the server's certificate chain verify against the
  // context's CAs and match `host_name`?
  bool server_verified() const;

  // Reads up to `n` decrypted bytes into `buf`; 0 means the peer closed.
  // Errors: temp (kTimedOut on timeout).
  Result<std::size_t> read(char* buf, std::size_t n, int timeout_seconds);
  // Writes all of `data`. Errors: temp.
  Status write(std::string_view data, int timeout_seconds);
  // Sends close_notify (best effort, no waiting).
  void shutdown();

  // "TLSv1.3" etc., and the cipher name, for logs and Received lines.
  std::string version() const;
  std::string cipher() const;
  // Did the client present a certificate that verified against the
  // context's client CAs?
  bool client_verified() const;
  // The e-mail addresses of a verified client certificate (subject
  // emailAddress and subjectAltName rfc822Name entries); empty when the
  // client is not verified.
  std::vector<std::string> client_emails() const;

 private:
  Connection(SSL* ssl, int rfd, int wfd) : ssl_(ssl), rfd_(rfd), wfd_(wfd) {}
  // Waits until `fd` is readable (or writable); temp kTimedOut on timeout.
  Status wait(int ssl_error, int timeout_seconds);
  SSL* ssl_ = nullptr;
  int rfd_ = -1, wfd_ = -1;
};

// Waits up to `timeout_seconds` for `fd` to become readable (`for_write`
// false) or writable. Errors: temp kTimedOut, temp on poll failure.
Status wait_fd(int fd, bool for_write, int timeout_seconds);

}  // namespace qmail::tls
