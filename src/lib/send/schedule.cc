#include "send/schedule.h"

namespace qmail::send {

std::int64_t isqrt(std::int64_t x) {
  if (x <= 0) return 0;
  std::int64_t r = 0;
  std::int64_t bit = std::int64_t{1} << 62;
  while (bit > x) bit >>= 2;
  while (bit != 0) {
    if (x >= r + bit) {
      x -= r + bit;
      r = (r >> 1) + bit;
    } else {
      r >>= 1;
    }
    bit >>= 2;
  }
  return r;
}

std::int64_t next_retry(std::int64_t birth, std::int64_t now, std::int64_t chanskip) {
  std::int64_t n = birth > now ? 0 : isqrt(now - birth);
  n += chanskip;
  return birth + n * n;
}

}  // namespace qmail::send
