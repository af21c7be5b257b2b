// qmail-rspawn(8)'s pool of remote workers (connection reuse). Instead of
// a qmail-remote per delivery, qmail-rspawn forks long-lived workers (its
// own uid, no exec) that run qmail-remote's code (remote::Sessions) in a
// loop and keep the SMTP session of a finished transaction open for the
// next message to the same destination. Used when HOME/bin/qmail-remote
// is our own program (spawn/builtin.h) and $QMAILREMOTE is unset.
//
// Dispatch: a delivery goes to an idle worker holding a session for the
// recipient's domain, else to an idle worker without a session, else to a
// new worker (or, with kMaxIdleWorkers idle ones, to the longest idle).
// Each worker has at most one delivery at a time; qmail-send bounds how
// many run at once (concurrencyremote). Idle workers are told to leave
// (their socket closed) after kWorkerIdleSeconds; they QUIT their session.
//
// Between qmail-rspawn and a worker (a socketpair):
//   job:    a spawn/protocol.h command ("<d>\0<id>\0<sender>\0<recipient>\0");
//           the worker opens HOME/queue/mess/<id%split>/<id> itself.
//   answer: "<d>\0<domain>\0<n>\0" then n bytes: qmail-remote's report
//           (r/h/s and K/Z/D records), translated by remote_result() as an
//           exec'd qmail-remote's would be; <domain> is the destination of
//           the session the worker now keeps ("" if none).
// A worker that dies with a delivery under way (its socket reaches EOF
// before the answer) makes that delivery a temporary failure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace qmail::spawn {

inline constexpr int kWorkerIdleSeconds = 5;
inline constexpr std::size_t kMaxIdleWorkers = 32;
// A worker's report larger than this is a broken worker.
inline constexpr std::size_t kMaxWorkerAnswer = 1 << 20;

struct WorkerAnswer {
  std::uint64_t delivery = 0;
  std::string domain;
  std::string report;
};

std::string encode_answer(const WorkerAnswer& a);
// Takes one complete answer from the front of `buf` (and removes it), or
// nullopt if more bytes are needed. Errors: perm on malformed input.
Result<std::optional<WorkerAnswer>> take_answer(std::string& buf);

// Serves qmail-send's commands on `in_fd`, results on `out_fd` (as
// spawner.h serve()), with workers. Returns when `in_fd` reaches EOF and
// every delivery has been reported.
Status serve_pool(int in_fd, int out_fd);

}  // namespace qmail::spawn
