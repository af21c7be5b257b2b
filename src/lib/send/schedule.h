// qmail's retry schedule: each message on its own, quadratic in time
// since the message's birth (qmail-send's THOUGHTS/INTERNALS). With
// n = floor(sqrt(now - birth)) + chanskip, the next attempt is at
// birth + n*n: a local recipient is tried again after about 100 s, 400 s,
// ... ; a remote one after 400 s, 1600 s, ... , spreading out as the
// message ages.
#pragma once

#include <cstdint>
#include <ctime>

namespace qmail::send {

inline constexpr std::int64_t kChanskipLocal = 10;
inline constexpr std::int64_t kChanskipRemote = 20;

// Integer square root (floor).
std::int64_t isqrt(std::int64_t x);

// The next retry time for a message born at `birth` that was just
// deferred at `now`.
std::int64_t next_retry(std::int64_t birth, std::int64_t now, std::int64_t chanskip);

}  // namespace qmail::send
