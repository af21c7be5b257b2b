#include "net/rbl.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <thread>

namespace qmail::net::rbl {
namespace {

TEST(Rbl, ParseSource) {
  auto s = parse_source("Bl.Example.", false);
  ASSERT_TRUE(s.is_ok());
  EXPECT_EQ(s->zone, "bl.example");
  EXPECT_FALSE(s->permanent);
  EXPECT_FALSE(s->anti);
  s = parse_source("-bl.example", false);
  ASSERT_TRUE(s.is_ok());
  EXPECT_TRUE(s->permanent);
  EXPECT_EQ(s->zone, "bl.example");
  s = parse_source("ok.example", true);
  ASSERT_TRUE(s.is_ok());
  EXPECT_TRUE(s->anti);
  for (std::string_view bad : {std::string_view(""), std::string_view("-"), std::string_view("."),
                               std::string_view("a b"), std::string_view("a\0b", 3)}) {
    EXPECT_FALSE(parse_source(bad, false).is_ok()) << bad;
  }
  EXPECT_FALSE(parse_source(std::string(200, 'a'), false).is_ok());
}

TEST(Rbl, FromEnv) {
  EXPECT_FALSE(from_env(nullptr).has_value());
  auto d = from_env("");
  ASSERT_TRUE(d.has_value());
  EXPECT_FALSE(d->block);
  d = from_env("go away");
  ASSERT_TRUE(d.has_value());
  EXPECT_TRUE(d->block);
  EXPECT_FALSE(d->permanent);
  EXPECT_EQ(d->text, "go away");
  d = from_env("-go away");
  EXPECT_TRUE(d->block);
  EXPECT_TRUE(d->permanent);
  EXPECT_EQ(d->text, "go away");
  EXPECT_EQ(reply(*d), "553 5.7.1 go away\r\n");
}

struct FakeDns {
  std::map<std::string, Result<std::vector<std::string>>> txt;
  std::map<std::string, Result<std::vector<dns::IpAddr>>> a;
  std::vector<std::string> asked;
  Lookups lookups() {
    Lookups l;
    l.txt = [this](const std::string& n) -> Result<std::vector<std::string>> {
      asked.push_back("TXT " + n);
      auto it = txt.find(n);
      if (it == txt.end()) return Status::perm("no such domain");
      return it->second;
    };
    l.a = [this](const std::string& n) -> Result<std::vector<dns::IpAddr>> {
      asked.push_back("A " + n);
      auto it = a.find(n);
      if (it == a.end()) return Status::perm("no such domain");
      return it->second;
    };
    return l;
  }
};

std::vector<Source> sources(std::initializer_list<std::pair<const char*, bool>> list) {
  std::vector<Source> out;
  for (auto [z, anti] : list) out.push_back(*parse_source(z, anti));
  return out;
}

TEST(Rbl, CheckOrderAndFailOpen) {
  auto ip = *dns::IpAddr::parse("192.0.2.5");
  FakeDns f;
  f.txt.emplace("5.2.0.192.down.test", Status::temp("DNS server failure"));
  f.txt.emplace("5.2.0.192.empty.test", std::vector<std::string>{});
  f.txt.emplace("5.2.0.192.bl.test", std::vector<std::string>{"listed", "see x"});
  Decision d = check(
      sources(
          {{"down.test", false}, {"empty.test", false}, {"none.test", false}, {"-bl.test", false}}),
      ip, f.lookups());
  EXPECT_TRUE(d.block);
  EXPECT_TRUE(d.permanent);
  EXPECT_EQ(d.text, "listed see x");
  EXPECT_EQ(d.source, "bl.test");
  EXPECT_EQ(f.asked.size(), 4u);

  // An anti-list before it (or one that cannot be asked) lets the client through.
  f.a.emplace("5.2.0.192.white.test", std::vector<dns::IpAddr>{dns::IpAddr::v4(127, 0, 0, 2)});
  f.a.emplace("5.2.0.192.whitedown.test", Status::temp("timeout"));
  EXPECT_FALSE(check(sources({{"white.test", true}, {"bl.test", false}}), ip, f.lookups()).block);
  EXPECT_FALSE(
      check(sources({{"whitedown.test", true}, {"bl.test", false}}), ip, f.lookups()).block);
  EXPECT_TRUE(check(sources({{"nowhite.test", true}, {"bl.test", false}}), ip, f.lookups()).block);
  EXPECT_FALSE(check({}, ip, f.lookups()).block);
}

TEST(Rbl, SafeTextAndReply) {
  EXPECT_EQ(safe_text("a\r\nb\x7f", "z"), "a??b?");
  EXPECT_EQ(safe_text("", "bl.test"), "your address is listed in bl.test");
  EXPECT_EQ(safe_text("   ", "RBLSMTPD"), "your address is listed");
  EXPECT_EQ(safe_text(std::string(1000, 'x'), "z").size(), kMaxText);
  Decision d{true, false, "see http://bl.test/", "bl.test"};
  EXPECT_EQ(reply(d), "451 4.7.1 see http://bl.test/\r\n");
}

TEST(Rbl, Answer) {
  bool quit = true;
  EXPECT_EQ(answer("EHLO x", "451 no\r\n", "h", &quit), "250 h\r\n");
  EXPECT_FALSE(quit);
  EXPECT_EQ(answer("helo\r", "451 no\r\n", "h", &quit), "250 h\r\n");
  EXPECT_EQ(answer("NOOP", "451 no\r\n", "h", &quit), "250 2.0.0 ok\r\n");
  EXPECT_EQ(answer("MAIL FROM:<a@b>", "451 no\r\n", "h", &quit), "451 no\r\n");
  EXPECT_EQ(answer("DATA", "451 no\r\n", "h", &quit), "451 no\r\n");
  EXPECT_EQ(answer("", "451 no\r\n", "h", &quit), "451 no\r\n");
  EXPECT_FALSE(quit);
  EXPECT_EQ(answer("quit", "451 no\r\n", "h", &quit), "221 h\r\n");
  EXPECT_TRUE(quit);
}

TEST(Rbl, Converse) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  Decision d{true, false, "listed", "bl.test"};
  std::thread server([&] { EXPECT_TRUE(converse(sv[1], sv[1], d, "mx.test", 30).is_ok()); });
  std::string in = "EHLO c\r\nMAIL FROM:<a@b>\r\n" + std::string(600, 'x') + "\r\nQUIT\r\nNOOP\r\n";
  ASSERT_EQ(::write(sv[0], in.data(), in.size()), static_cast<ssize_t>(in.size()));
  server.join();
  ::close(sv[1]);
  std::string got;
  char buf[1024];
  for (ssize_t n; (n = ::read(sv[0], buf, sizeof buf)) > 0;) got.append(buf, n);
  ::close(sv[0]);
  EXPECT_EQ(got,
            "220 mx.test ESMTP\r\n250 mx.test\r\n451 4.7.1 listed\r\n451 4.7.1 listed\r\n"
            "221 mx.test\r\n");
}

TEST(Rbl, ConverseTimesOut) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  Decision d{true, true, "", "bl.test"};
  EXPECT_TRUE(converse(sv[1], sv[1], d, "h", 1).is_ok());  // returns after 1 s of silence
  ::close(sv[1]);
  ::close(sv[0]);
}

}  // namespace
}  // namespace qmail::net::rbl
