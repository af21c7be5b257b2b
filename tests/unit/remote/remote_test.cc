#include "remote/remote.h"

#include <gtest/gtest.h>

namespace qmail::remote {
namespace {

dns::IpAddr ip(const char* s) { return *dns::IpAddr::parse(s); }

TEST(OrderMx, SortsAndShufflesEqualPreferences) {
  std::mt19937 rng(1);
  bool saw_b_first = false, saw_c_first = false;
  for (int i = 0; i < 50; ++i) {
    std::vector<dns::Mx> m = {{20, "d"}, {10, "b"}, {5, "a"}, {10, "c"}};
    order_mx(m, rng);
    ASSERT_EQ(m[0].host, "a");
    ASSERT_EQ(m[3].host, "d");
    saw_b_first = saw_b_first || m[1].host == "b";
    saw_c_first = saw_c_first || m[1].host == "c";
  }
  EXPECT_TRUE(saw_b_first);
  EXPECT_TRUE(saw_c_first);
}

TEST(ChooseTargets, SkipsOurselvesAndWorse) {
  auto me = [](const dns::IpAddr& a) { return a == ip("192.0.2.1"); };
  std::vector<MxHost> hosts = {
      {5, "best", {ip("2001:db8::5"), ip("192.0.2.5")}, false},
      {10, "self", {ip("192.0.2.1")}, false},
      {20, "worse", {ip("192.0.2.20")}, false},
  };
  auto t = choose_targets(hosts, 2525, me);
  ASSERT_TRUE(t.is_ok());
  ASSERT_EQ(t->size(), 2u);
  EXPECT_EQ((*t)[0].ip, ip("2001:db8::5"));
  EXPECT_EQ((*t)[1].ip, ip("192.0.2.5"));
  EXPECT_EQ((*t)[1].port, 2525);

  hosts.erase(hosts.begin());
  auto none = choose_targets(hosts, 25, me);
  ASSERT_FALSE(none.is_ok());
  EXPECT_TRUE(none.status().is_perm());
  EXPECT_NE(none.status().message().find("best-preference MX"), std::string::npos);

  std::vector<MxHost> named = {{10, "localhost", {}, true}, {20, "x", {ip("192.0.2.9")}, false}};
  EXPECT_FALSE(choose_targets(named, 25, me).is_ok());
}

TEST(ChooseTargets, NoAddressesIsEmptyNotAnError) {
  std::vector<MxHost> hosts = {{10, "x", {}, false}};
  auto t = choose_targets(hosts, 25, [](const dns::IpAddr&) { return false; });
  ASSERT_TRUE(t.is_ok());
  EXPECT_TRUE(t->empty());
}

TEST(Literal, Forms) {
  EXPECT_EQ(parse_literal("[192.0.2.1]"), ip("192.0.2.1"));
  EXPECT_EQ(parse_literal("[IPv6:2001:db8::1]"), ip("2001:db8::1"));
  EXPECT_EQ(parse_literal("[2001:db8::1]"), ip("2001:db8::1"));
  EXPECT_FALSE(parse_literal("192.0.2.1").has_value());
  EXPECT_FALSE(parse_literal("[IPv6:192.0.2.1]").has_value());
  EXPECT_FALSE(parse_literal("[example.com]").has_value());
  EXPECT_FALSE(parse_literal("[]").has_value());
}

TEST(LocalAddresses, IncludeLoopback) {
  auto a = local_addresses();
  EXPECT_NE(std::find(a.begin(), a.end(), ip("127.0.0.1")), a.end());
  EXPECT_NE(std::find(a.begin(), a.end(), ip("::1")), a.end());
}

}  // namespace
}  // namespace qmail::remote

namespace qmail::remote {
namespace {

TEST(TlsDestination, Matching) {
  std::vector<std::string> lines = {"bank.example:/etc/ca.pem", ".gov.example", "exact.example"};
  EXPECT_EQ(tls_destination(lines, "bank.example"), "/etc/ca.pem");
  EXPECT_EQ(tls_destination(lines, "BANK.example"), "/etc/ca.pem");
  EXPECT_EQ(tls_destination(lines, "x.gov.example"), "");
  EXPECT_FALSE(tls_destination(lines, "gov.example").has_value());
  EXPECT_FALSE(tls_destination(lines, "sub.exact.example").has_value());
  EXPECT_FALSE(tls_destination(lines, "other.example").has_value());
  EXPECT_EQ(tls_destination({""}, "any.example"), "");
}

}  // namespace
}  // namespace qmail::remote
