#include "remote/tcpto.h"

#include <gtest/gtest.h>

#include <array>

namespace qmail::remote {
namespace {

using Table = std::array<std::uint8_t, kTcptoSize>;

TEST(Tcpto, DownAfterTwoTimeoutsTwoMinutesApart) {
  Table t{};
  auto ip = *dns::IpAddr::parse("192.0.2.1");
  tcpto_record(t, ip, true, 1000);
  EXPECT_FALSE(tcpto_is_down(t, ip, 1001, 0));
  tcpto_record(t, ip, true, 1050);  // within two minutes: not counted
  EXPECT_FALSE(tcpto_is_down(t, ip, 1051, 0));
  tcpto_record(t, ip, true, 1120);
  EXPECT_TRUE(tcpto_is_down(t, ip, 1121, 0));
  EXPECT_TRUE(tcpto_is_down(t, ip, 1120 + 3839, 0));
  EXPECT_FALSE(tcpto_is_down(t, ip, 1120 + 3840, 0));
  EXPECT_TRUE(tcpto_is_down(t, ip, 1120 + 3840, 31));
  auto e = tcpto_entries(t);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].ip, ip);
  EXPECT_EQ(e[0].timeouts, 2u);
  EXPECT_EQ(e[0].when, 1120);
}

TEST(Tcpto, SuccessClears) {
  Table t{};
  auto ip = *dns::IpAddr::parse("2001:db8::7");
  tcpto_record(t, ip, true, 1000);
  tcpto_record(t, ip, true, 2000);
  EXPECT_TRUE(tcpto_is_down(t, ip, 2001, 0));
  tcpto_record(t, ip, false, 2002);
  EXPECT_FALSE(tcpto_is_down(t, ip, 2003, 0));
  EXPECT_TRUE(tcpto_entries(t).empty());
}

TEST(Tcpto, FamiliesDoNotMix) {
  Table t{};
  auto v4 = *dns::IpAddr::parse("1.2.3.4");
  dns::IpAddr v6;
  v6.family = 10;  // AF_INET6
  v6.bytes = v4.bytes;
  tcpto_record(t, v4, true, 1000);
  tcpto_record(t, v4, true, 2000);
  EXPECT_FALSE(tcpto_is_down(t, *dns::IpAddr::parse("::102:304"), 2001, 0));
}

TEST(Tcpto, FullTableReplacesOldest) {
  Table t{};
  for (unsigned i = 0; i < kTcptoSlots; ++i)
    tcpto_record(t, dns::IpAddr::v4(10, 0, 0, static_cast<std::uint8_t>(i)), true, 1000 + i);
  tcpto_record(t, dns::IpAddr::v4(10, 0, 1, 1), true, 5000);
  auto e = tcpto_entries(t);
  EXPECT_EQ(e.size(), kTcptoSlots);
  bool has_new = false, has_oldest = false;
  for (const auto& x : e) {
    has_new = has_new || x.ip == dns::IpAddr::v4(10, 0, 1, 1);
    has_oldest = has_oldest || x.ip == dns::IpAddr::v4(10, 0, 0, 0);
  }
  EXPECT_TRUE(has_new);
  EXPECT_FALSE(has_oldest);
}

TEST(Tcpto, GarbageTableIsHarmless) {
  Table t;
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = static_cast<std::uint8_t>(i * 37 + 11);
  auto ip = dns::IpAddr::v4(1, 1, 1, 1);
  (void)tcpto_is_down(t, ip, 0, 0);
  tcpto_record(t, ip, true, 100);
  (void)tcpto_entries(t);
}

}  // namespace
}  // namespace qmail::remote
