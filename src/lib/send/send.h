// qmail-send(8): the queue manager. One event loop (poll) over the
// trigger FIFO, the spawners' and qmail-clean's pipes, signals and
// timers. Descriptors as qmail-send(8) says: log on 0; qmail-lspawn
// commands on 1, results on 2; qmail-rspawn on 3 and 4; qmail-clean on 5
// and 6. The design (scheduling, durability, restart) is in docs/queue.md.
#pragma once

#include <span>

#include "base/status.h"

namespace qmail::send {

// Highest accepted concurrencylocal/concurrencyremote (qmail capped them
// at 120; each running delivery costs a process and a pipe).
inline constexpr std::uint64_t kMaxConcurrency = 1000;
// New messages preprocessed between two dispatch rounds, so a flood in
// todo/ cannot starve queued deliveries.
inline constexpr std::size_t kTodoSlice = 8;
// Direct messages (delivered from todo/ without info, local or remote
// files; docs/queue.md) held at once beyond those that got their delivery
// slots at once: the rest of a flood is preprocessed as usual.
inline constexpr std::size_t kMaxDirect = 10000;
// New messages (taken from todo/ and waiting in memory for their first
// delivery) held at most per channel: kFreshPerSlot per delivery slot,
// and never fewer than kFreshMin. Beyond that a new message for the
// channel stays in todo/ (only its id is kept) until the channel has
// room, so a backlog costs qmail-send a few bytes per message, not its
// recipients, and a stalled channel does not stop the other one's new
// mail (docs/queue.md).
inline constexpr std::size_t kFreshPerSlot = 2;
inline constexpr std::size_t kFreshMin = 64;
// todo/ is rescanned this often even without a trigger poke (seconds).
inline constexpr int kTodoScanInterval = 60;
// After trouble (disk, qmail-clean, qmail-queue) an action is retried
// after this long (seconds; qmail-log(5) says ten seconds).
inline constexpr int kTroubleDelay = 10;

Status send_main(std::span<char*> args);

}  // namespace qmail::send
