#include "addr/smtp_path.h"

#include <gtest/gtest.h>

#include <string>

namespace qmail::addr {
namespace {

struct Good {
  const char* arg;
  const char* address;
  const char* rest;
};

TEST(EnvelopePath, Accepts) {
  const Good cases[] = {
      {"<u@example.test>", "u@example.test", ""},
      {" <u@example.test> SIZE=10", "u@example.test", " SIZE=10"},
      {"<>", "", ""},
      {"<Postmaster>", "Postmaster", ""},
      {"<@a.test,@b.test:u@c.test>", "u@c.test", ""},
      {"<\"a b\"@x.test>", "a b@x.test", ""},
      {"<\"a\\\"b\"@x.test>", "a\"b@x.test", ""},
      {"<\"a>b\"@x.test>", "a>b@x.test", ""},
      {"<u@[192.0.2.1]>", "u@[192.0.2.1]", ""},
      {"<u@[IPv6:2001:db8::1]>", "u@[IPv6:2001:db8::1]", ""},
      {"u@x.test", "u@x.test", ""},
      {"u@x.test BODY=8BITMIME", "u@x.test", " BODY=8BITMIME"},
      {"<a.b+c=d@x-y.test>", "a.b+c=d@x-y.test", ""},
      {"<j\xc3\xb6@\xc3\xbc.test>", "j\xc3\xb6@\xc3\xbc.test", ""},
      // From the former lenient addr::parse_smtp_path, which this replaces.
      {"<a@b>", "a@b", ""},
      {" <a@b> SIZE=100 BODY=8BITMIME", "a@b", " SIZE=100 BODY=8BITMIME"},
      {"a@b SIZE=1", "a@b", " SIZE=1"},
      {"<@r1,@r2:a@b>", "a@b", ""},
      {"<\"a b\"@c>", "a b@c", ""},
      {"<\"a\\\"q\"@c>", "a\"q@c", ""},
      {"<\"The Almighty.One\"@heaven.af.mil>", "The Almighty.One@heaven.af.mil", ""},
      {"<a@[127.0.0.1]>", "a@[127.0.0.1]", ""},
      {"<\"a@b\"@c>", "a@b@c", ""},
  };
  for (const auto& c : cases) {
    auto r = parse_path(c.arg);
    ASSERT_TRUE(r.is_ok()) << c.arg << ": " << r.status().message();
    EXPECT_EQ(r->path.address(), c.address) << c.arg;
    EXPECT_EQ(r->rest, c.rest) << c.arg;
  }
}

TEST(EnvelopePath, Flags) {
  auto r = parse_path("<@a.test:u@[127.0.0.1]>");
  ASSERT_TRUE(r.is_ok());
  EXPECT_TRUE(r->path.had_route);
  EXPECT_TRUE(r->path.literal);
  EXPECT_FALSE(r->path.eight_bit);
  EXPECT_TRUE(parse_path("<\xc3\xa9@x.test>")->path.eight_bit);
  EXPECT_TRUE(parse_path("<>")->path.null);
}

TEST(EnvelopePath, Refuses) {
  const char* bad[] = {
      "",
      "<",
      "<u@x.test",
      "<u@x.test>junk",
      "<@x.test>",
      "<@x.test:>",
      "<@x.test,:u@y.test>",
      "<@:u@y.test>",
      "<u@>",
      "<u@x.test.>",
      "<u@.x.test>",
      "<u@x..test>",
      "<u@-x.test>",
      "<u@x_y.test>",
      "<u@x.test@y.test>",
      "<u@@x.test>",
      "<.u@x.test>",
      "<u.@x.test>",
      "<u..v@x.test>",
      "<u v@x.test>",
      "<\"u@x.test>",
      "<\"u\"v@x.test>",
      "<\"\"@x.test>",
      "<u@[300.1.1.1]>",
      "<u@[1.2.3]>",
      "<u@[IPv6:zz]>",
      "<u@[x:y]>",
      "<u\x01@x.test>",
      "<\"u\x01\"@x.test>",
      "<u@x\x7f.test>",
      "u@x.test>",
      "<\"a@b>",
      "<a\r@b>",
      "<The\\ Almighty.One@heaven.af.mil>",  // a backslash only inside quotes
  };
  for (const char* b : bad) EXPECT_FALSE(parse_path(b).is_ok()) << b;
}

TEST(EnvelopePath, Lengths) {
  std::string ok = "<" + std::string(240, 'a') + "@x.test>";
  EXPECT_TRUE(parse_path(ok).is_ok());
  std::string too_long = "<" + std::string(250, 'a') + "@x.test>";
  EXPECT_FALSE(parse_path(too_long).is_ok());
  std::string label = "<u@" + std::string(64, 'a') + ".test>";
  EXPECT_FALSE(parse_path(label).is_ok());
  EXPECT_TRUE(is_domain(std::string(63, 'a') + ".test"));
}

// Found by fuzzing: strchr(set, '\0') matches the terminator.
TEST(EnvelopePath, NulIsNotAtext) {
  EXPECT_FALSE(parse_path(std::string_view("<a\0b@x.test>", 12)).is_ok());
  EXPECT_FALSE(parse_path(std::string_view("a\0b@x.test", 10)).is_ok());
}
TEST(EnvelopePath, NulInLiteral) {
  EXPECT_FALSE(parse_path(std::string_view("<u@[IPv6:2001:db8::\0b]>", 23)).is_ok());
  EXPECT_FALSE(parse_path(std::string_view("<u@[1.2.3.4\0]>", 14)).is_ok());
}

TEST(FormatPath, Forms) {
  struct Case {
    const char* address;
    const char* path;
  } cases[] = {
      {"", "<>"},
      {"u@example.test", "<u@example.test>"},
      {"Postmaster", "<Postmaster>"},
      {"a.b+c=d@x.test", "<a.b+c=d@x.test>"},
      {"a b@x.test", "<\"a b\"@x.test>"},
      {"a\"q@x.test", "<\"a\\\"q\"@x.test>"},
      {"back\\slash@x.test", "<\"back\\\\slash\"@x.test>"},
      {"a@b@x.test", "<\"a@b\"@x.test>"},
      {".dot@x.test", "<\".dot\"@x.test>"},
      {"a..b@x.test", "<\"a..b\"@x.test>"},
      {"u@[192.0.2.1]", "<u@[192.0.2.1]>"},
      {"a@", "<\"a@\">"},
      {"@x.test", "<\"@x.test\">"},
      {"@", "<\"@\">"},
      {"a@b)c", "<\"a@b)c\">"},
      {"j\xc3\xb6@\xc3\xbc.test", "<j\xc3\xb6@\xc3\xbc.test>"},
      {"#@[]", "<#@[]>"},  // qmail-send(8): the double-bounce sender, as qmail sends it
  };
  for (const auto& c : cases) EXPECT_EQ(format_path(c.address), c.path) << c.address;
}

TEST(FormatPath, RoundTrip) {
  // What qmail-smtpd stores, qmail-remote sends so that qmail-smtpd
  // stores it again unchanged.
  for (const char* arg :
       {"<u@example.test>", "<\"a b\"@x.test>", "<\"a\\\"q\"@x.test>", "<\"a@b\"@x.test>",
        "<\"a\\\\b\"@x.test>", "<@r.test:\"x y\"@z.test>", "<\"\xc3\xa9 e\"@x.test>",
        "<Postmaster>", "<>", "<u@[IPv6:2001:db8::1]>", "<\"a.\"@x.test>", "<\"a@\">",
        "<\"@x.test\">", "<\"@\">", "<\"@\"@x.test>", "<\"a@b\">", "\"aI@)b8:\"", "<#@[]>"}) {
    auto p = parse_path(arg);
    ASSERT_TRUE(p.is_ok()) << arg;
    std::string a = p->path.address();
    auto again = parse_path(format_path(a));
    ASSERT_TRUE(again.is_ok()) << arg << " -> " << format_path(a);
    EXPECT_EQ(again->path.address(), a) << arg;
  }
}

}  // namespace
}  // namespace qmail::addr
