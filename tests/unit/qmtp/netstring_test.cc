#include "qmtp/netstring.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "io/io.h"

namespace qmail::qmtp {
namespace {

using namespace std::string_literals;

TEST(Netstring, Encode) {
  EXPECT_EQ(encode(""), "0:,");
  EXPECT_EQ(encode("hello world!"), "12:hello world!,");
  EXPECT_EQ(encode("a\0b"s), "3:a\0b,"s);
}

TEST(Netstring, ParseTable) {
  struct Case {
    std::string in;
    bool ok;
    std::string value, rest;
  } cases[] = {
      {"0:,", true, "", ""},
      {"3:abc,xyz", true, "abc", "xyz"},
      {"3:a\0c,"s, true, "a\0c"s, ""},
      {"03:abc,", false, "", ""},  // leading zero
      {"00:,", false, "", ""},
      {":abc,", false, "", ""},   // no length
      {"3:abc;", false, "", ""},  // no comma
      {"3:ab", false, "", ""},    // truncated
      {"3", false, "", ""},
      {"-1:,", false, "", ""},
      {"99999999999999999999999:x,", false, "", ""},  // overflow
      {"18446744073709551615:x,", false, "", ""},     // huge, truncated
      {"11:abc,", false, "", ""},                     // over the limit of 10
  };
  for (const auto& c : cases) {
    std::string_view in = c.in;
    auto r = parse(in, 10);
    EXPECT_EQ(r.is_ok(), c.ok) << c.in;
    if (r.is_ok() && c.ok) {
      EXPECT_EQ(*r, c.value);
      EXPECT_EQ(in, c.rest);
    }
  }
}

std::string read_via_pipe(const std::string& bytes, std::uint64_t limit, bool* ok) {
  int p[2];
  EXPECT_EQ(::pipe(p), 0);
  EXPECT_TRUE(io::write_all(p[1], bytes).is_ok());
  ::close(p[1]);
  io::Reader in(p[0], 4);
  auto r = read(in, limit);
  ::close(p[0]);
  *ok = r.is_ok();
  return r.is_ok() ? *r : r.status().message();
}

TEST(Netstring, ReadFromReader) {
  bool ok;
  EXPECT_EQ(read_via_pipe("12:hello world!,", 100, &ok), "hello world!");
  EXPECT_TRUE(ok);
  EXPECT_EQ(read_via_pipe("12:hello world!,", 11, &ok), "netstring too long");
  EXPECT_FALSE(ok);
  EXPECT_EQ(read_via_pipe("12:hello", 100, &ok), "truncated netstring");
  EXPECT_FALSE(ok);
  EXPECT_EQ(read_via_pipe("012:hello world!,", 100, &ok), "bad netstring");
  EXPECT_EQ(read_via_pipe("5:hello!", 100, &ok), "bad netstring");
  EXPECT_EQ(read_via_pipe("123456789012345678901:", UINT64_MAX, &ok), "bad netstring");
}

}  // namespace
}  // namespace qmail::qmtp
