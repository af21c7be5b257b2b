#include "remote/reply.h"

#include <gtest/gtest.h>

namespace qmail::remote {
namespace {

TEST(Reply, MultiLine) {
  auto r = parse_replies("250-a\r\n250-b\r\n250 c\r\n354 go\n220\r\n");
  ASSERT_TRUE(r.is_ok());
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].code, 250);
  EXPECT_EQ((*r)[0].text(), "250-a\n250-b\n250 c");
  EXPECT_EQ((*r)[1].code, 354);
  EXPECT_EQ((*r)[2].code, 220);
}

TEST(Reply, Errors) {
  for (const char* bad :
       {"25\r\n", "abc\r\n", "250x\r\n", "150 no\r\n", "650 no\r\n", "250-a\r\n251 b\r\n"}) {
    auto r = parse_replies(bad);
    EXPECT_FALSE(r.is_ok()) << bad;
    if (!r.is_ok()) {
      EXPECT_TRUE(r.status().is_perm());
    }
  }
}

TEST(Reply, Bounds) {
  ReplyParser p;
  EXPECT_FALSE(p.feed("250 " + std::string(kMaxReplyLine, 'x')).is_ok());
  ReplyParser q;
  for (std::size_t i = 0; i < kMaxReplyLines; ++i) ASSERT_TRUE(q.feed("250-x").is_ok());
  EXPECT_FALSE(q.feed("250 x").is_ok());
}

TEST(Reply, TextHidesControls) {
  Reply r;
  r.code = 550;
  r.lines = {std::string("550 a\0b\x01\tc", 10)};
  EXPECT_EQ(r.text(), "550 a?b?\tc");
}

TEST(Reply, Classes) {
  Reply r;
  r.code = 250;
  EXPECT_TRUE(r.is_ok());
  r.code = 451;
  EXPECT_TRUE(r.is_temp());
  r.code = 554;
  EXPECT_TRUE(r.is_perm());
}

TEST(Ehlo, Keywords) {
  auto r = parse_replies(
      "250-mx.example Hello\r\n250-PIPELINING\r\n250-size 35882577\r\n250-8BITMIME\r\n"
      "250-STARTTLS\r\n250 SMTPUTF8\r\n");
  ASSERT_TRUE(r.is_ok());
  Extensions e = parse_ehlo((*r)[0]);
  EXPECT_TRUE(e.pipelining);
  EXPECT_TRUE(e.size);
  EXPECT_EQ(e.size_limit, 35882577u);
  EXPECT_TRUE(e.eightbitmime);
  EXPECT_TRUE(e.starttls);
  EXPECT_TRUE(e.smtputf8);
  auto plain = parse_replies("250 mx.example PIPELINING\r\n");
  Extensions n = parse_ehlo((*plain)[0]);  // first line is the greeting only
  EXPECT_FALSE(n.pipelining);
  auto sz = parse_replies("250-x\r\n250 SIZE\r\n");
  EXPECT_TRUE(parse_ehlo((*sz)[0]).size);
  EXPECT_EQ(parse_ehlo((*sz)[0]).size_limit, 0u);
}

}  // namespace
}  // namespace qmail::remote
