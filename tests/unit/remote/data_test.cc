#include "remote/data.h"

#include <gtest/gtest.h>

#include <string>

namespace qmail::remote {
namespace {

std::string encode(std::string_view in, std::size_t split) {
  DataEncoder e;
  std::string out;
  for (std::size_t i = 0; i < in.size(); i += split) e.feed(in.substr(i, split), out);
  e.finish(out);
  return out;
}

TEST(DataEncoder, Table) {
  struct {
    std::string in, want;
  } cases[] = {
      {"", ".\r\n"},
      {"a", "a\r\n.\r\n"},
      {"a\n", "a\r\n.\r\n"},
      {"a\r\n", "a\r\n.\r\n"},
      {".", "..\r\n.\r\n"},
      {".\n", "..\r\n.\r\n"},
      {"x\n.\r\ny", "x\r\n..\r\ny\r\n.\r\n"},
      {"x\r.\r\n", "x\r\n..\r\n.\r\n"},
      {"x\r\r\n", "x\r\n\r\n.\r\n"},
      {"\r", "\r\n.\r\n"},
      {"a.b\n.c\n", "a.b\r\n..c\r\n.\r\n"},
      {"\n.\n", "\r\n..\r\n.\r\n"},
      {std::string("nul\0x\n", 6), std::string("nul\0x\r\n.\r\n", 10)},
  };
  for (const auto& c : cases) {
    for (std::size_t split : {1u, 2u, 3u, 1000u}) {
      EXPECT_EQ(encode(c.in, split), c.want) << "in=" << c.in << " split=" << split;
    }
  }
}

// Whatever the input, the output is CRLF lines and ends DATA only at its end.
TEST(DataEncoder, NothingEndsDataEarly) {
  std::string alphabet = "\r\n.a";
  for (int n = 0; n < 4 * 4 * 4 * 4 * 4 * 4; ++n) {
    std::string in;
    for (int k = n, i = 0; i < 6; ++i, k /= 4) in += alphabet[k % 4];
    std::string out = encode(in, 1);
    if (out == ".\r\n") continue;
    ASSERT_NE(out.substr(0, 3), ".\r\n") << in;
    ASSERT_EQ(out.find("\r\n.\r\n"), out.size() - 5) << in;
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (out[i] == '\r') {
        ASSERT_EQ(out[i + 1], '\n') << in;
      }
      if (out[i] == '\n') {
        ASSERT_EQ(out[i - 1], '\r') << in;
      }
    }
  }
}

TEST(MessageScan, SizeAndEightBit) {
  MessageScan s;
  s.feed("a\nb\n");
  EXPECT_EQ(s.encoded_size(), 6u);
  EXPECT_FALSE(s.eight_bit());
  s.feed("\xc3\xa9\n");
  EXPECT_TRUE(s.eight_bit());
  EXPECT_EQ(s.encoded_size(), 10u);
}

}  // namespace
}  // namespace qmail::remote
