#include "remote/smtproutes.h"

#include <gtest/gtest.h>

namespace qmail::remote {
namespace {

TEST(SmtpRoutes, Lookup) {
  auto r = SmtpRoutes::parse(
      "# comment\n"
      "inside.af.mil:firewall.af.mil:26\n"
      ".af.mil:\n"
      "Lit.Example:[10.0.0.1]:2525\n"
      "six.example:[2001:db8::1]\n"
      "six2.example:[2001:db8::2]:587\n"
      "mxport.example::2526\n"
      "inside.af.mil:ignored.second\n"
      ":heaven.af.mil\n");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  struct {
    const char* host;
    const char* relay;
    int port;
  } cases[] = {
      {"inside.af.mil", "firewall.af.mil", 26},
      {"INSIDE.AF.MIL", "firewall.af.mil", 26},
      {"x.af.mil", "", 25},
      {"a.b.af.mil", "", 25},
      {"af.mil", "heaven.af.mil", 25},
      {"lit.example", "[10.0.0.1]", 2525},
      {"six.example", "[2001:db8::1]", 25},
      {"six2.example", "[2001:db8::2]", 587},
      {"mxport.example", "", 2526},
      {"other.org", "heaven.af.mil", 25},
  };
  for (const auto& c : cases) {
    auto got = r->find(c.host);
    ASSERT_TRUE(got.has_value()) << c.host;
    EXPECT_EQ(got->relay, c.relay) << c.host;
    EXPECT_EQ(got->port, c.port) << c.host;
  }
}

TEST(SmtpRoutes, NoCatchAll) {
  auto r = SmtpRoutes::parse("a.example:b.example\n");
  ASSERT_TRUE(r.is_ok());
  EXPECT_FALSE(r->find("c.example").has_value());
  EXPECT_FALSE(r->find("x.a.example").has_value());  // no wildcard without a dot
}

TEST(SmtpRoutes, Errors) {
  for (const char* bad :
       {"nocolon\n", "a:b:0\n", "a:b:65536\n", "a:b:x\n", "a:[1.2.3.4\n", "a:[1.2.3.4]x\n"}) {
    auto r = SmtpRoutes::parse(bad);
    EXPECT_FALSE(r.is_ok()) << bad;
    if (!r.is_ok()) {
      EXPECT_TRUE(r.status().is_temp());
    }
  }
}

}  // namespace
}  // namespace qmail::remote
