// The client half of the TLS layer (qmail-remote's STARTTLS): a client
// context with the project's policy (TLS 1.2 and later, AEAD ciphers),
// trusting either the system's CAs or one CA file. The handshake itself is
// tls::Connection::connect (tls.h).
#pragma once

#include <string>

#include "base/status.h"
#include "tls/tls.h"

namespace qmail::tls {

class ClientContext {
 public:
  ClientContext(ClientContext&&) noexcept;
  ClientContext& operator=(ClientContext&&) noexcept;
  ~ClientContext();

  // `ca_file` empty: the system's default CA paths. Certificates are
  // checked after the handshake (Connection::server_verified), so an
  // unverifiable server still gets encryption when TLS is opportunistic.
  // Errors: temp, with OpenSSL's reason.
  static Result<ClientContext> create(const std::string& ca_file = "");
  SSL_CTX* get() const { return ctx_; }

 private:
  explicit ClientContext(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_ = nullptr;
};

}  // namespace qmail::tls
