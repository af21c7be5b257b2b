#include "tls/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "fs/fs.h"

namespace qmail::tls {

namespace {

// TLS 1.2 suites: forward secrecy and AEAD only. TLS 1.3 suites are
// OpenSSL's defaults (all AEAD).
constexpr const char* kCiphers12 =
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "DHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256";

std::string ssl_error(std::string_view what) {
  std::string s(what);
  unsigned long e;
  bool first = true;
  while ((e = ::ERR_get_error()) != 0) {
    char buf[256];
    ::ERR_error_string_n(e, buf, sizeof buf);
    s += first ? ": " : "; ";
    s += buf;
    first = false;
  }
  return s;
}

// The suites of kCiphers12 that `wanted` names, in `wanted`'s order, as
// an OpenSSL cipher list; "" when it names none. Errors: temp when OpenSSL
// cannot parse `wanted` at all.
Result<std::string> narrow_ciphers(const std::string& wanted) {
  SSL_CTX* probe = ::SSL_CTX_new(::TLS_server_method());
  if (!probe) return Status::temp(ssl_error("SSL_CTX_new"));
  std::string out;
  if (!::SSL_CTX_set_cipher_list(probe, wanted.c_str())) {
    ::SSL_CTX_free(probe);
    return Status::temp(ssl_error("no usable cipher in \"" + wanted + "\""));
  }
  std::string policy = std::string(":") + kCiphers12 + ":";
  STACK_OF(SSL_CIPHER)* list = ::SSL_CTX_get_ciphers(probe);
  for (int i = 0; list && i < sk_SSL_CIPHER_num(list); ++i) {
    std::string name = ::SSL_CIPHER_get_name(sk_SSL_CIPHER_value(list, i));
    if (policy.find(":" + name + ":") == std::string::npos) continue;
    if (!out.empty()) out += ':';
    out += name;
  }
  ::SSL_CTX_free(probe);
  return out;
}

// The client CA check is ours (client_verified): the handshake goes on
// whatever the client presents, as relaying is only an extra.
int accept_any(int, X509_STORE_CTX*) { return 1; }

}  // namespace

Status wait_fd(int fd, bool for_write, int timeout_seconds) {
  struct pollfd p = {fd, static_cast<short>(for_write ? POLLOUT : POLLIN), 0};
  long long ms = static_cast<long long>(timeout_seconds) * 1000;
  if (ms > 0x7fffffff) ms = 0x7fffffff;
  while (true) {
    int r = ::poll(&p, 1, static_cast<int>(ms));
    if (r > 0) return Status::ok();
    if (r == 0) return Status::temp_errno("timeout", kTimedOut);
    if (errno != EINTR) return Status::temp_errno("poll");
  }
}

ServerContext::ServerContext(ServerContext&& o) noexcept : ctx_(std::exchange(o.ctx_, nullptr)) {}
ServerContext& ServerContext::operator=(ServerContext&& o) noexcept {
  if (this != &o) {
    if (ctx_) ::SSL_CTX_free(ctx_);
    ctx_ = std::exchange(o.ctx_, nullptr);
  }
  return *this;
}
ServerContext::~ServerContext() {
  if (ctx_) ::SSL_CTX_free(ctx_);
}

ServerContext ServerContext::share() const {
  if (ctx_) ::SSL_CTX_up_ref(ctx_);
  return ServerContext(ctx_);
}

Result<ServerContext> ServerContext::load(const std::string& cert_path,
                                          const std::string& clientca_path,
                                          const std::string& clientcrl_path,
                                          const std::string& ciphers) {
  ::ERR_clear_error();
  SSL_CTX* raw = ::SSL_CTX_new(::TLS_server_method());
  if (!raw) return Status::temp(ssl_error("SSL_CTX_new"));
  ServerContext ctx(raw);
  // RFC 8996: TLS 1.0 and 1.1 are deprecated.
  if (!::SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION))
    return Status::temp(ssl_error("setting minimum TLS version"));
  ::SSL_CTX_set_options(raw, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
  ::SSL_CTX_set_session_cache_mode(raw, SSL_SESS_CACHE_OFF);
  std::string suites = kCiphers12;
  if (!ciphers.empty()) {
    QMAIL_ASSIGN_OR_RETURN(suites, narrow_ciphers(ciphers));
    if (suites.empty())
      return Status::temp("no cipher of our TLS 1.2 policy in \"" + ciphers + "\"");
  }
  if (!::SSL_CTX_set_cipher_list(raw, suites.c_str()))
    return Status::temp(ssl_error("setting ciphers"));
  ::SSL_CTX_set_dh_auto(raw, 1);
  if (::SSL_CTX_use_certificate_chain_file(raw, cert_path.c_str()) != 1)
    return Status::temp(ssl_error("unable to load certificate " + cert_path));
  if (::SSL_CTX_use_PrivateKey_file(raw, cert_path.c_str(), SSL_FILETYPE_PEM) != 1)
    return Status::temp(ssl_error("unable to load private key " + cert_path));
  if (::SSL_CTX_check_private_key(raw) != 1)
    return Status::temp(ssl_error("key does not match certificate in " + cert_path));
  if (!clientca_path.empty() && fs::exists(clientca_path)) {
    if (::SSL_CTX_load_verify_locations(raw, clientca_path.c_str(), nullptr) != 1)
      return Status::temp(ssl_error("unable to load " + clientca_path));
    STACK_OF(X509_NAME)* names = ::SSL_load_client_CA_file(clientca_path.c_str());
    if (!names) return Status::temp(ssl_error("unable to read " + clientca_path));
    ::SSL_CTX_set_client_CA_list(raw, names);
    ::SSL_CTX_set_verify(raw, SSL_VERIFY_PEER, accept_any);
    if (!clientcrl_path.empty() && fs::exists(clientcrl_path)) {
      X509_STORE* store = ::SSL_CTX_get_cert_store(raw);
      if (::X509_STORE_load_locations(store, clientcrl_path.c_str(), nullptr) != 1)
        return Status::temp(ssl_error("unable to load " + clientcrl_path));
      ::X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
    }
  }
  return ctx;
}

Connection::Connection(Connection&& o) noexcept
    : ssl_(std::exchange(o.ssl_, nullptr)), rfd_(o.rfd_), wfd_(o.wfd_) {}
Connection& Connection::operator=(Connection&& o) noexcept {
  if (this != &o) {
    if (ssl_) ::SSL_free(ssl_);
    ssl_ = std::exchange(o.ssl_, nullptr);
    rfd_ = o.rfd_;
    wfd_ = o.wfd_;
  }
  return *this;
}
Connection::~Connection() {
  if (ssl_) ::SSL_free(ssl_);
}

Status Connection::wait(int ssl_error_code, int timeout_seconds) {
  if (ssl_error_code == SSL_ERROR_WANT_READ) return wait_fd(rfd_, false, timeout_seconds);
  if (ssl_error_code == SSL_ERROR_WANT_WRITE) return wait_fd(wfd_, true, timeout_seconds);
  if (ssl_error_code == SSL_ERROR_SYSCALL && errno != 0) return Status::temp_errno("TLS I/O");
  return Status::temp(ssl_error("TLS error"));
}

Result<Connection> Connection::accept(const ServerContext& ctx, int rfd, int wfd,
                                      int timeout_seconds) {
  ::ERR_clear_error();
  SSL* ssl = ::SSL_new(ctx.get());
  if (!ssl) return Status::temp(ssl_error("SSL_new"));
  Connection c(ssl, rfd, wfd);
  if (::SSL_set_rfd(ssl, rfd) != 1 || ::SSL_set_wfd(ssl, wfd) != 1)
    return Status::temp(ssl_error("SSL_set_fd"));
  while (true) {
    errno = 0;
    int r = ::SSL_accept(ssl);
    if (r == 1) return c;
    int e = ::SSL_get_error(ssl, r);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
      if (e == SSL_ERROR_SYSCALL && errno == 0) return Status::temp("TLS handshake: peer closed");
      return Status::temp(ssl_error("TLS handshake failed"));
    }
    QMAIL_RETURN_IF_ERROR(c.wait(e, timeout_seconds));
  }
}

Result<std::size_t> Connection::read(char* buf, std::size_t n, int timeout_seconds) {
  if (n > 0x40000000) n = 0x40000000;
  while (true) {
    ::ERR_clear_error();
    errno = 0;
    int r = ::SSL_read(ssl_, buf, static_cast<int>(n));
    if (r > 0) return static_cast<std::size_t>(r);
    int e = ::SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_ZERO_RETURN) return std::size_t{0};
    if (e == SSL_ERROR_SYSCALL && errno == 0) return std::size_t{0};  // EOF without close_notify
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
      return Status::temp(ssl_error("TLS read failed"));
    QMAIL_RETURN_IF_ERROR(wait(e, timeout_seconds));
  }
}

Status Connection::write(std::string_view data, int timeout_seconds) {
  while (!data.empty()) {
    ::ERR_clear_error();
    errno = 0;
    int chunk = data.size() > 0x40000000 ? 0x40000000 : static_cast<int>(data.size());
    int r = ::SSL_write(ssl_, data.data(), chunk);
    if (r > 0) {
      data.remove_prefix(static_cast<std::size_t>(r));
      continue;
    }
    int e = ::SSL_get_error(ssl_, r);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
      return e == SSL_ERROR_SYSCALL && errno != 0 ? Status::temp_errno("TLS write")
                                                  : Status::temp(ssl_error("TLS write failed"));
    QMAIL_RETURN_IF_ERROR(wait(e, timeout_seconds));
  }
  return Status::ok();
}

void Connection::shutdown() {
  if (ssl_) ::SSL_shutdown(ssl_);
}

std::string Connection::version() const { return ::SSL_get_version(ssl_); }

std::string Connection::cipher() const {
  const char* c = ::SSL_get_cipher_name(ssl_);
  return c ? c : "";
}

std::vector<std::string> Connection::client_emails() const {
  std::vector<std::string> out;
  if (!client_verified()) return out;
  X509* peer = ::SSL_get1_peer_certificate(ssl_);
  if (!peer) return out;
  auto add = [&](const ASN1_STRING* s) {
    if (!s) return;
    const unsigned char* d = ::ASN1_STRING_get0_data(s);
    int n = ::ASN1_STRING_length(s);
    if (d && n > 0) out.emplace_back(reinterpret_cast<const char*>(d), static_cast<std::size_t>(n));
  };
  if (X509_NAME* subject = ::X509_get_subject_name(peer)) {
    for (int i = -1; (i = ::X509_NAME_get_index_by_NID(subject, NID_pkcs9_emailAddress, i)) >= 0;)
      add(::X509_NAME_ENTRY_get_data(::X509_NAME_get_entry(subject, i)));
  }
  auto* names =
      static_cast<GENERAL_NAMES*>(::X509_get_ext_d2i(peer, NID_subject_alt_name, nullptr, nullptr));
  if (names) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
      if (g->type == GEN_EMAIL) add(g->d.rfc822Name);
    }
    ::GENERAL_NAMES_free(names);
  }
  ::X509_free(peer);
  return out;
}

bool Connection::client_verified() const {
  X509* peer = ::SSL_get1_peer_certificate(ssl_);
  if (!peer) return false;
  ::X509_free(peer);
  return ::SSL_get_verify_result(ssl_) == X509_V_OK;
}

}  // namespace qmail::tls
