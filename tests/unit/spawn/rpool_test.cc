#include "spawn/rpool.h"

#include <gtest/gtest.h>

namespace qmail::spawn {
namespace {

using namespace std::string_literals;

TEST(WorkerAnswer, RoundTripInPiecesWithNulsInTheReport) {
  WorkerAnswer a{7, "far.example", "r\0K127.0.0.2 accepted message.\n\0"s};
  WorkerAnswer b{8, "", "Zno\0"s};
  std::string wire = encode_answer(a) + encode_answer(b);
  std::string buf;
  std::vector<WorkerAnswer> got;
  for (char ch : wire) {
    buf += ch;
    auto r = take_answer(buf);
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    if (*r) got.push_back(std::move(**r));
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].delivery, 7u);
  EXPECT_EQ(got[0].domain, "far.example");
  EXPECT_EQ(got[0].report, a.report);
  EXPECT_EQ(got[1].delivery, 8u);
  EXPECT_EQ(got[1].domain, "");
  EXPECT_EQ(got[1].report, "Zno\0"s);
  EXPECT_TRUE(buf.empty());
}

TEST(WorkerAnswer, Malformed) {
  for (std::string bad : {"x\0d\0"
                          "1\0"s,
                          "1\0d\0"
                          "-1\0"s,
                          "1\0d\0"
                          "99999999\0"s,
                          std::string(40, '1'), "1\0d\0" + std::string(40, '1')}) {
    std::string buf = bad;
    EXPECT_FALSE(take_answer(buf).is_ok()) << bad;
  }
  std::string partial =
      "1\0d\0"
      "5\0abc"s;
  auto r = take_answer(partial);
  ASSERT_TRUE(r.is_ok());
  EXPECT_FALSE(*r);
}

}  // namespace
}  // namespace qmail::spawn
