#include "smtp/session.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "smtp/policy.h"

namespace qmail::smtp {
namespace {

TEST(Reply, Format) {
  EXPECT_EQ(format_reply(554, "mail server permanently rejected message (#5.3.0)"),
            "554 5.3.0 mail server permanently rejected message (#5.3.0)\r\n");
  EXPECT_EQ(format_reply(451, "no code"), "451 4.0.0 no code\r\n");
  EXPECT_EQ(format_reply(250, "a\nb", false), "250-a\r\n250 b\r\n");
  // The code in the text is used only when it is one (RFC 3463) of the
  // reply's own class.
  EXPECT_EQ(format_reply(451, "later (#4.3.5)"), "451 4.3.5 later (#4.3.5)\r\n");
  EXPECT_EQ(format_reply(554, "x (#5.123.456)"), "554 5.123.456 x (#5.123.456)\r\n");
  EXPECT_EQ(format_reply(554, "hi (#2.0.0)"), "554 5.0.0 hi (#2.0.0)\r\n");
  EXPECT_EQ(format_reply(451, "x (#5.7.1)"), "451 4.0.0 x (#5.7.1)\r\n");
  EXPECT_EQ(format_reply(554, "x (#5.a.1)"), "554 5.0.0 x (#5.a.1)\r\n");
  EXPECT_EQ(format_reply(554, "x (#5.1)"), "554 5.0.0 x (#5.1)\r\n");
  EXPECT_EQ(format_reply(554, "x (#5.1.1234)"), "554 5.0.0 x (#5.1.1234)\r\n");
  EXPECT_EQ(format_reply(554, "x (#5.1.)"), "554 5.0.0 x (#5.1.)\r\n");
}

TEST(Received, QmailShape) {
  std::time_t t = 1795308829;  // 22 Nov 2026 00:53:49 UTC
  EXPECT_EQ(received_line("helo.test", "host.test", "", "1.2.3.4", "mx.test", "ESMTP", t),
            "Received: from host.test (HELO helo.test) (host.test [1.2.3.4])\n"
            "  by mx.test with ESMTP; 22 Nov 2026 00:53:49 -0000\n");
  EXPECT_EQ(received_line("HOST.test", "host.test", "joe", "1.2.3.4", "mx", "SMTP", t),
            "Received: from host.test (joe@host.test [1.2.3.4])\n"
            "  by mx with SMTP; 22 Nov 2026 00:53:49 -0000\n");
  EXPECT_EQ(received_line("a(b)\nc", "h", "", "ip", "l", "ESMTPS", t).substr(0, 37),
            "Received: from h (HELO a?b??c) (h [ip");
}

TEST(RcptHosts, ExactAndWildcards) {
  RcptHosts r = RcptHosts::from_lines({"Example.test", ".wild.test"});
  struct Case {
    const char* domain;
    bool want;
  } cases[] = {{"example.test", true},    {"EXAMPLE.TEST", true},
               {"x.example.test", false}, {"wild.test", false},
               {"a.wild.test", true},     {"a.b.WILD.test", true},
               {"evil.test", false},      {"", false},
               {"example.test.", false}};
  for (const auto& c : cases) EXPECT_EQ(*r.allows(c.domain), c.want) << c.domain;
  // An empty (but supplied) rcpthosts allows nothing; a missing one
  // (default-constructed) allows everything, as qmail-smtpd(8) says.
  EXPECT_TRUE(RcptHosts::from_lines({}).supplied());
  EXPECT_FALSE(*RcptHosts::from_lines({}).allows("example.test"));
  EXPECT_FALSE(RcptHosts().supplied());
  EXPECT_TRUE(*RcptHosts().allows("anything.test"));
}

TEST(BadMailFrom, AddressesAndHosts) {
  BadMailFrom b = BadMailFrom::from_lines({"Bad@x.test", "@spam.test"});
  EXPECT_TRUE(b.matches("bad@X.TEST"));
  EXPECT_TRUE(b.matches("anyone@spam.test"));
  EXPECT_FALSE(b.matches("good@x.test"));
  EXPECT_FALSE(b.matches("a@sub.spam.test"));
  EXPECT_FALSE(b.matches(""));
}

TEST(LocalIps, Literals) {
  LocalIps l = LocalIps::load(nullptr);
  l.add("192.0.2.7");
  l.add("2001:db8::7");
  EXPECT_TRUE(l.is_local_literal("[192.0.2.7]"));
  EXPECT_TRUE(l.is_local_literal("[IPv6:2001:db8:0::7]"));
  EXPECT_FALSE(l.is_local_literal("[192.0.2.8]"));
  EXPECT_FALSE(l.is_local_literal("192.0.2.7"));
  EXPECT_FALSE(l.is_local_literal("[junk]"));
}

TEST(LocalIps, InterfaceAddressesAreLookedUpWhenNeeded) {
  // Not $TCPLOCALIP, but loopback's address: listed at the first literal
  // that $TCPLOCALIP does not match.
  LocalIps l = LocalIps::load("192.0.2.7");
  EXPECT_TRUE(l.is_local_literal("[192.0.2.7]"));
  EXPECT_TRUE(l.is_local_literal("[127.0.0.1]"));
  EXPECT_FALSE(l.is_local_literal("[192.0.2.8]"));
}

}  // namespace
}  // namespace qmail::smtp

namespace qmail::smtp {
namespace {

TEST(Recipients, Lookup) {
  char dir[] = "/tmp/recipients-test-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  std::string src = std::string(dir) + "/in", cdb = std::string(dir) + "/r.cdb";
  {
    std::FILE* f = std::fopen(src.c_str(), "w");
    std::fputs("joe@example.test \nlist-@example.test \n@backup.test \n", f);
    std::fclose(f);
  }
  std::string cmd = "cdb -c -m " + cdb + " " + src;
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  auto r = Recipients::open(cdb);
  ASSERT_TRUE(r.is_ok());
  ASSERT_TRUE(r->enabled());
  struct Case {
    const char* local;
    const char* domain;
    bool want;
  } cases[] = {
      {"joe", "example.test", true},        {"JOE", "Example.Test", true},
      {"jane", "example.test", false},      {"joe-x", "example.test", false},
      {"list-x", "example.test", true},     {"list-x-y", "example.test", true},
      {"list", "example.test", false},      {"anyone", "backup.test", true},
      {"PostMaster", "example.test", true}, {"joe", "other.test", false},
  };
  for (const auto& c : cases)
    EXPECT_EQ(*r->accepts(c.local, c.domain), c.want) << c.local << "@" << c.domain;
  auto off = Recipients::open(std::string(dir) + "/missing.cdb");
  ASSERT_TRUE(off.is_ok());
  EXPECT_FALSE(off->enabled());
  EXPECT_TRUE(*off->accepts("anyone", "x"));
  std::string rm = std::string("rm -rf ") + dir;
  ASSERT_EQ(std::system(rm.c_str()), 0);
}

}  // namespace
}  // namespace qmail::smtp
