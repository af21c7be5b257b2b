#include "dns/dns.h"

#include <gtest/gtest.h>

namespace qmail::dns {
namespace {

using namespace std::string_literals;

TEST(Name, Parse) {
  std::size_t used = 0;
  EXPECT_EQ(parse_name("\x04mail\x07"
                       "Example\x03"
                       "com\x00"s,
                       &used),
            "mail.example.com");
  EXPECT_EQ(used, 18u);
  EXPECT_EQ(parse_name("\x00"s), "");
  EXPECT_FALSE(parse_name("").has_value());
  EXPECT_FALSE(parse_name("\x05"
                          "abc"s)
                   .has_value());  // runs past the end
  EXPECT_FALSE(parse_name("\x03"
                          "a.b\x00"s)
                   .has_value());  // dot inside a label
  EXPECT_FALSE(parse_name("\x03"
                          "a b\x00"s)
                   .has_value());                     // space
  EXPECT_FALSE(parse_name("\xc0\x0c"s).has_value());  // compression pointer
  std::string longname;
  for (int i = 0; i < 5; ++i) longname += "\x3f" + std::string(63, 'a');
  longname += '\0';
  EXPECT_FALSE(parse_name(longname).has_value());  // over 255 octets
}

TEST(Mx, Parse) {
  auto m = parse_mx_rdata(
      "\x00\x0a\x02mx\x07"
      "example\x00"s);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->pref, 10);
  EXPECT_EQ(m->host, "mx.example");
  auto null_mx = parse_mx_rdata("\x00\x00\x00"s);
  ASSERT_TRUE(null_mx.has_value());
  EXPECT_EQ(null_mx->host, "");
  EXPECT_FALSE(parse_mx_rdata("\x00\x0a\x02mx\x00junk"s).has_value());
  EXPECT_FALSE(parse_mx_rdata("\x00"s).has_value());
}

TEST(Address, Parse) {
  auto a = parse_a_rdata("\x7f\x00\x00\x01"s);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->str(), "127.0.0.1");
  auto six = parse_aaaa_rdata(std::string(15, '\0') + "\x01");
  ASSERT_TRUE(six.has_value());
  EXPECT_EQ(six->str(), "::1");
  EXPECT_FALSE(parse_a_rdata("abc").has_value());
  EXPECT_FALSE(parse_aaaa_rdata("abcd").has_value());
  EXPECT_EQ(IpAddr::parse("2001:db8::1")->str(), "2001:db8::1");
  EXPECT_FALSE(IpAddr::parse("1.2.3").has_value());
  EXPECT_FALSE(IpAddr::parse("").has_value());
  EXPECT_FALSE(IpAddr::parse(std::string(100, '1')).has_value());
}

TEST(Txt, Parse) {
  EXPECT_EQ(parse_txt_rdata("\x05hello\x06 world"s), "hello world");
  EXPECT_EQ(parse_txt_rdata("\x00"s), "");
  EXPECT_FALSE(parse_txt_rdata("").has_value());
  EXPECT_FALSE(parse_txt_rdata("\x05hell"s).has_value());  // runs past the end
}

TEST(Reverse, Names) {
  EXPECT_EQ(reverse_name(*IpAddr::parse("192.0.2.5"), "bl.example"), "5.2.0.192.bl.example");
  EXPECT_EQ(reverse_name(*IpAddr::parse("127.0.0.1"), "in-addr.arpa"), "1.0.0.127.in-addr.arpa");
  // RFC 5782 2.4's example.
  EXPECT_EQ(reverse_name(*IpAddr::parse("2001:db8:1:2:3:4:567:89ab"), "ugly.example.com"),
            "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ugly.example.com");
}

TEST(Resolver, BadForwarderIsTemporary) {
  auto r = Resolver::create({"not an address"});
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(r.status().is_temp());
}

}  // namespace
}  // namespace qmail::dns
