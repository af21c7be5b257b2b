#include "send/schedule.h"

#include <gtest/gtest.h>

namespace qmail::send {
namespace {

TEST(Schedule, Isqrt) {
  for (std::int64_t x : {0, 1, 2, 3, 4, 15, 16, 17, 99, 100, 101, 1000000, 999999}) {
    std::int64_t r = isqrt(x);
    EXPECT_LE(r * r, x);
    EXPECT_GT((r + 1) * (r + 1), x);
  }
}

TEST(Schedule, QuadraticFromBirth) {
  // birth + (floor(sqrt(age)) + chanskip)^2
  EXPECT_EQ(next_retry(1000, 1000, kChanskipLocal), 1000 + 100);
  EXPECT_EQ(next_retry(1000, 1100, kChanskipLocal), 1000 + 400);
  EXPECT_EQ(next_retry(1000, 1400, kChanskipLocal), 1000 + 900);
  EXPECT_EQ(next_retry(1000, 1000, kChanskipRemote), 1000 + 400);
  EXPECT_EQ(next_retry(1000, 1400, kChanskipRemote), 1000 + 1600);
  // a birth in the future (clock jump) counts as age 0
  EXPECT_EQ(next_retry(5000, 1000, kChanskipLocal), 5100);
}

TEST(Schedule, AlwaysInTheFuture) {
  for (std::int64_t age = 0; age < 200000; age += 977) {
    std::int64_t now = 1000000 + age;
    EXPECT_GT(next_retry(1000000, now, kChanskipLocal), now);
  }
}

}  // namespace
}  // namespace qmail::send
