#include "remote/conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace qmail::remote {

namespace {

// Waits for `events` on fd; temp ETIMEDOUT after timeout_s seconds.
Status wait_for(int fd, short events, int timeout_s) {
  struct pollfd p = {fd, events, 0};
  long long ms = static_cast<long long>(timeout_s) * 1000;
  if (ms > 0x7fffffff) ms = 0x7fffffff;
  for (;;) {
    int r = ::poll(&p, 1, static_cast<int>(ms));
    if (r > 0) return Status::ok();
    if (r == 0) return Status::temp_errno("timeout", ETIMEDOUT);
    if (errno != EINTR) return Status::temp_errno("poll");
  }
}

}  // namespace

Result<Conn> Conn::open(const dns::IpAddr& ip, std::uint16_t port, int timeout_s) {
  Fd fd(::socket(ip.family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return Status::temp_errno("socket");
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (ip.family == AF_INET6) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    std::memcpy(&s6->sin6_addr, ip.bytes.data(), 16);
    len = sizeof *s6;
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    std::memcpy(&s4->sin_addr, ip.bytes.data(), 4);
    len = sizeof *s4;
  }
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    if (errno != EINPROGRESS) return Status::temp_errno("connect");
    QMAIL_RETURN_IF_ERROR(wait_for(fd.get(), POLLOUT, timeout_s));
    int err = 0;
    socklen_t elen = sizeof err;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
      return Status::temp_errno("getsockopt");
    if (err != 0) return Status::temp_errno("connect", err);
  }
  return Conn(std::move(fd));
}

Status Conn::start_tls(SSL_CTX* ctx, const std::string& host_name, int timeout_s) {
  // RFC 3207 5: nothing the server sent before the handshake may be used.
  buf_.clear();
  QMAIL_ASSIGN_OR_RETURN(tls::Connection t,
                         tls::Connection::connect(ctx, fd_.get(), host_name, timeout_s));
  tls_.emplace(std::move(t));
  return Status::ok();
}

Status Conn::write(std::string_view data, int timeout_s) {
  if (tls_) return tls_->write(data, timeout_s);
  while (!data.empty()) {
    ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      QMAIL_RETURN_IF_ERROR(wait_for(fd_.get(), POLLOUT, timeout_s));
      continue;
    }
    return Status::temp_errno("write");
  }
  return Status::ok();
}

Result<std::string> Conn::read_line(int timeout_s) {
  for (;;) {
    auto nl = buf_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line;
    }
    // +1 for the CR.
    if (buf_.size() > kMaxReplyLine + 1) return Status::perm("reply line too long");
    char tmp[4096];
    if (tls_) {
      QMAIL_ASSIGN_OR_RETURN(std::size_t got, tls_->read(tmp, sizeof tmp, timeout_s));
      if (got == 0) return Status::temp("connection closed");
      buf_.append(tmp, got);
      continue;
    }
    ssize_t n = ::recv(fd_.get(), tmp, sizeof tmp, 0);
    if (n > 0) {
      buf_.append(tmp, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) return Status::temp("connection closed");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      QMAIL_RETURN_IF_ERROR(wait_for(fd_.get(), POLLIN, timeout_s));
      continue;
    }
    return Status::temp_errno("read");
  }
}

bool Conn::idle_ok() const {
  if (!buf_.empty()) return false;
  struct pollfd p = {fd_.get(), POLLIN, 0};
  int r;
  do {
    r = ::poll(&p, 1, 0);
  } while (r < 0 && errno == EINTR);
  return r == 0;
}

Result<Reply> Conn::read_reply(int timeout_s) {
  ReplyParser p;
  for (;;) {
    QMAIL_ASSIGN_OR_RETURN(std::string line, read_line(timeout_s));
    QMAIL_ASSIGN_OR_RETURN(bool done, p.feed(line));
    if (done) return p.take();
  }
}

}  // namespace qmail::remote
