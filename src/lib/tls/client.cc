#include "tls/client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <strings.h>

#include <cerrno>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace qmail::tls {

namespace {

std::string client_ssl_error(std::string_view what) {
  std::string out(what);
  unsigned long e = ::ERR_get_error();
  if (e) {
    char buf[256];
    ::ERR_error_string_n(e, buf, sizeof buf);
    out += ": ";
    out += buf;
  }
  ::ERR_clear_error();
  return out;
}

// The address in "192.0.2.1", "[192.0.2.1]", "[IPv6:2001:db8::1]" or
// "[2001:db8::1]" (the names qmail-remote gives address literals and
// smtproutes relays), or nullopt for a host name.
std::optional<std::string> address_of(std::string_view name) {
  if (name.size() > 2 && name.front() == '[' && name.back() == ']') {
    name = name.substr(1, name.size() - 2);
    if (name.size() > 5 && ::strncasecmp(name.data(), "ipv6:", 5) == 0) name = name.substr(5);
  }
  if (name.empty() || name.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  std::string s(name);
  unsigned char buf[sizeof(struct in6_addr)];
  if (::inet_pton(AF_INET, s.c_str(), buf) == 1 || ::inet_pton(AF_INET6, s.c_str(), buf) == 1)
    return s;
  return std::nullopt;
}

// The server's policy (tls.cc) for TLS 1.2: ECDHE/DHE with AEAD only.
constexpr const char* kClientCiphers12 =
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "DHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256";

}  // namespace

ClientContext::ClientContext(ClientContext&& o) noexcept : ctx_(std::exchange(o.ctx_, nullptr)) {}
ClientContext& ClientContext::operator=(ClientContext&& o) noexcept {
  if (this != &o) {
    if (ctx_) ::SSL_CTX_free(ctx_);
    ctx_ = std::exchange(o.ctx_, nullptr);
  }
  return *this;
}
ClientContext::~ClientContext() {
  if (ctx_) ::SSL_CTX_free(ctx_);
}

Result<ClientContext> ClientContext::create(const std::string& ca_file) {
  ::ERR_clear_error();
  SSL_CTX* raw = ::SSL_CTX_new(::TLS_client_method());
  if (!raw) return Status::temp(client_ssl_error("SSL_CTX_new"));
  ClientContext ctx(raw);
  if (!::SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION))
    return Status::temp(client_ssl_error("setting minimum TLS version"));
  ::SSL_CTX_set_options(raw, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (!::SSL_CTX_set_cipher_list(raw, kClientCiphers12))
    return Status::temp(client_ssl_error("setting ciphers"));
  int ok = ca_file.empty() ? ::SSL_CTX_set_default_verify_paths(raw)
                           : ::SSL_CTX_load_verify_locations(raw, ca_file.c_str(), nullptr);
  if (ok != 1) return Status::temp(client_ssl_error("loading CAs " + ca_file));
  // Verification is judged after the handshake (server_verified()).
  ::SSL_CTX_set_verify(raw, SSL_VERIFY_NONE, nullptr);
  return ctx;
}

Result<Connection> Connection::connect(SSL_CTX* ctx, int fd, const std::string& host_name,
                                       int timeout_seconds) {
  ::ERR_clear_error();
  SSL* ssl = ::SSL_new(ctx);
  if (!ssl) return Status::temp(client_ssl_error("SSL_new"));
  Connection c(ssl, fd, fd);
  if (::SSL_set_fd(ssl, fd) != 1) return Status::temp(client_ssl_error("SSL_set_fd"));
  if (auto ip = address_of(host_name)) {
    // An address literal or a bare address: no SNI (RFC 6066 3 allows only
    // host names there), and the certificate must name the address.
    if (::X509_VERIFY_PARAM_set1_ip_asc(::SSL_get0_param(ssl), ip->c_str()) != 1)
      return Status::temp(client_ssl_error("X509_VERIFY_PARAM_set1_ip_asc"));
  } else if (!host_name.empty()) {
    ::SSL_set_tlsext_host_name(ssl, host_name.c_str());
    ::SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (::SSL_set1_host(ssl, host_name.c_str()) != 1)
      return Status::temp(client_ssl_error("SSL_set1_host"));
  }
  while (true) {
    errno = 0;
    int r = ::SSL_connect(ssl);
    if (r == 1) return c;
    int e = ::SSL_get_error(ssl, r);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
      if (e == SSL_ERROR_SYSCALL && errno == 0) return Status::temp("TLS handshake: peer closed");
      return Status::temp(client_ssl_error("TLS handshake failed"));
    }
    QMAIL_RETURN_IF_ERROR(c.wait(e, timeout_seconds));
  }
}

bool Connection::server_verified() const {
  X509* cert = ::SSL_get1_peer_certificate(ssl_);
  if (!cert) return false;
  ::X509_free(cert);
  return ::SSL_get_verify_result(ssl_) == X509_V_OK;
}

}  // namespace qmail::tls
