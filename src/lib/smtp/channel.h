// The SMTP server's connection to its client: buffered input (so that
// pipelined commands, RFC 2920, are never lost), buffered replies that are
// flushed before every read that would block, a timeout on every wait
// (timeoutsmtpd) and a deadline on the whole session, and the switch to
// TLS (RFC 3207), which drops any bytes the client sent early.
#pragma once

#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "tls/tls.h"

namespace qmail::smtp {

class Channel {
 public:
  // `rfd`/`wfd` are not owned; they are made non-blocking.
  Channel(int rfd, int wfd, unsigned timeout_seconds, std::time_t deadline);
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // Queues reply bytes; they go out at flush() or before the next wait
  // for input.
  void put(std::string_view s) { out_.append(s); }
  Status flush();

  // One command line without its LF (and CR). `*too_long` is set, and an
  // empty line returned, for a line over kMaxCommandLine (its bytes are
  // discarded up to the LF). Errors: temp; check eof() / timed_out().
  Result<std::string_view> read_line(bool* too_long);
  // Buffered input, filling the buffer (after a flush) if it is empty.
  // An empty view means EOF. consume() marks bytes as used.
  Result<std::string_view> peek_some();
  void consume(std::size_t n) { pos_ += n; }
  std::size_t buffered() const { return end_ - pos_; }

  // RFC 3207 4: replies are flushed, everything the client sent after
  // STARTTLS is discarded, then the handshake runs.
  Status start_tls(const tls::ServerContext& ctx);
  bool in_tls() const { return conn_.has_value(); }
  const tls::Connection* tls() const { return conn_ ? &*conn_ : nullptr; }
  void close();

  bool eof() const { return eof_; }
  bool timed_out() const { return timed_out_; }

 private:
  Status fill();
  int wait_seconds();
  int rfd_, wfd_;
  unsigned timeout_;
  std::time_t deadline_;
  // kInputBuffer bytes, not zeroed: only what reads fill is ever touched
  // (a worker's memory is what its sessions touch). The same buffer for
  // every session of a worker (base/kept.h).
  std::unique_ptr<char[]> in_;
  std::size_t pos_ = 0, end_ = 0;
  bool discarding_ = false;
  std::string out_;
  std::optional<tls::Connection> conn_;
  bool eof_ = false;
  bool timed_out_ = false;
};

}  // namespace qmail::smtp
