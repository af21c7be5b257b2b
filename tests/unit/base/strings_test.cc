#include "base/strings.h"

#include <gtest/gtest.h>

#include "base/status.h"

namespace qmail {
namespace {

TEST(Strings, ParseUint) {
  struct Case {
    const char* in;
    std::uint64_t max;
    std::optional<std::uint64_t> want;
  } cases[] = {
      {"0", 10, 0},   {"10", 10, 10},       {"11", 10, std::nullopt}, {"", 10, std::nullopt},
      {"1x", 99, std::nullopt}, {"-1", 99, std::nullopt}, {" 1", 99, std::nullopt},
  };
  for (const auto& c : cases) EXPECT_EQ(str::parse_uint(c.in, c.max), c.want) << c.in;
}

TEST(Strings, SplitKeepsEmptyFields) {
  auto f = str::split("a::b:", ':');
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[0], "a");
  EXPECT_EQ(f[1], "");
  EXPECT_EQ(f[2], "b");
  EXPECT_EQ(f[3], "");
}

TEST(Strings, CaseFoldingIsAsciiOnly) {
  EXPECT_EQ(str::lower("AbC\xC4"), "abc\xC4");
  EXPECT_TRUE(str::iequals("Example.COM", "example.com"));
  EXPECT_FALSE(str::iequals("a", "ab"));
}

Result<int> half(int x) {
  if (x % 2) return Status::perm("odd");
  return x / 2;
}

Status quarter(int x, int* out) {
  QMAIL_ASSIGN_OR_RETURN(int h, half(x));
  QMAIL_ASSIGN_OR_RETURN(int q, half(h));
  *out = q;
  return Status::ok();
}

TEST(Status, AssignOrReturnPropagates) {
  int out = 0;
  EXPECT_TRUE(quarter(8, &out).is_ok());
  EXPECT_EQ(out, 2);
  Status s = quarter(6, &out);
  EXPECT_TRUE(s.is_perm());
  EXPECT_EQ(s.message(), "odd");
}

}  // namespace
}  // namespace qmail
