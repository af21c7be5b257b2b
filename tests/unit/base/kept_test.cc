#include "base/kept.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace qmail {
namespace {

TEST(Kept, GivesBackTheSameBuffer) {
  Kept<std::unique_ptr<char[]>> kept;
  EXPECT_EQ(kept.take(), nullptr);  // nothing kept yet
  auto buf = std::make_unique<char[]>(100);
  char* where = buf.get();
  kept.give(std::move(buf));
  auto again = kept.take();
  EXPECT_EQ(again.get(), where);
}

TEST(Kept, ASecondUserAtOnceGetsNothing) {
  Kept<std::string> kept;
  std::string s;
  s.reserve(4096);
  kept.give(std::move(s));
  std::string first = kept.take();
  EXPECT_GE(first.capacity(), 4096u);
  std::string second = kept.take();
  EXPECT_LT(second.capacity(), 4096u);  // lent out already
}

TEST(Kept, KeepsOneAndDropsTheRest) {
  Kept<std::unique_ptr<int>> kept;
  auto a = std::make_unique<int>(1);
  auto b = std::make_unique<int>(2);
  kept.give(std::move(a));
  kept.give(std::move(b));  // one is kept already: b is freed
  auto got = kept.take();
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(*got, 1);
  EXPECT_EQ(kept.take(), nullptr);
}

}  // namespace
}  // namespace qmail
