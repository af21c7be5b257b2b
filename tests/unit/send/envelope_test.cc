#include "send/envelope.h"

#include <gtest/gtest.h>

namespace qmail::send {
namespace {

using namespace std::string_literals;

TEST(Envelope, ParsesTodo) {
  auto t = parse_todo("u1000\0p4242\0Fa@b.test\0Tx@y\0Tz@w\0"s);
  ASSERT_TRUE(t.is_ok());
  EXPECT_EQ(t->uid, 1000u);
  EXPECT_EQ(t->qp, 4242u);
  EXPECT_EQ(t->sender, "a@b.test");
  EXPECT_EQ(t->recipients, (std::vector<std::string>{"x@y", "z@w"}));
}

TEST(Envelope, EmptySenderAndTrailingNul) {
  auto t = parse_todo("u0\0p1\0F\0Tx@y\0\0"s);
  ASSERT_TRUE(t.is_ok());
  EXPECT_EQ(t->sender, "");
  EXPECT_EQ(t->recipients.size(), 1u);
}

TEST(Envelope, RejectsGarbage) {
  EXPECT_FALSE(parse_todo("u0\0Xbad\0Fa\0"s).is_ok());
  EXPECT_FALSE(parse_todo("u0\0Tx@y\0"s).is_ok());  // no sender
  EXPECT_FALSE(parse_todo("Fa\0Fb\0"s).is_ok());
  EXPECT_FALSE(parse_todo("Fa\0Tunterminated"s).is_ok());
  EXPECT_FALSE(parse_todo("uxyz\0Fa\0"s).is_ok());
}

TEST(Envelope, RcptRecordsWithOffsets) {
  std::string text = format_rcpts({"a@b", "cc@d"});
  EXPECT_EQ(text, "Ta@b\0Tcc@d\0"s);
  text[5] = 'D';
  auto r = parse_rcpts(text);
  ASSERT_TRUE(r.is_ok());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].address, "a@b");
  EXPECT_FALSE((*r)[0].done);
  EXPECT_EQ((*r)[1].offset, 5u);
  EXPECT_TRUE((*r)[1].done);
  // a torn final record is ignored
  auto torn = parse_rcpts("Ta@b\0Tc"s);
  ASSERT_TRUE(torn.is_ok());
  EXPECT_EQ(torn->size(), 1u);
  EXPECT_FALSE(parse_rcpts("Xa\0"s).is_ok());
}

TEST(Envelope, Info) {
  EXPECT_EQ(format_info("a@b"), "Fa@b\0"s);
  EXPECT_EQ(*parse_info("Fa@b\0"s), "a@b");
  EXPECT_EQ(*parse_info("F\0"s), "");
  EXPECT_FALSE(parse_info("Xa\0"s).is_ok());
  EXPECT_FALSE(parse_info("Fa"s).is_ok());
}

}  // namespace
}  // namespace qmail::send
