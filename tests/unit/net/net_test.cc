#include "net/net.h"

#include <gtest/gtest.h>

#include <map>

#include "net/tcpsrv.h"

namespace qmail::net {
namespace {

TEST(Net, ParseAndFormat) {
  struct Case {
    std::string in;
    std::uint16_t port;
    std::string ip, text;
  } cases[] = {
      {"0", 25, "0.0.0.0", "0.0.0.0:25"},
      {"127.0.0.1", 0, "127.0.0.1", "127.0.0.1:0"},
      {"::1", 209, "::1", "[::1]:209"},
      {"::", 1, "::", "[::]:1"},
      {"2001:DB8:0:0:0:0:0:1", 628, "2001:db8::1", "[2001:db8::1]:628"},
      {"::ffff:10.1.2.3", 25, "10.1.2.3", "10.1.2.3:25"},
  };
  for (const auto& c : cases) {
    auto e = parse_ip(c.in, c.port);
    ASSERT_TRUE(e.is_ok()) << c.in;
    EXPECT_EQ(e->ip(), c.ip);
    EXPECT_EQ(e->to_string(), c.text);
    EXPECT_EQ(e->port(), c.port);
  }
  for (std::string bad : std::vector<std::string>{"", "localhost", "1.2.3", "1.2.3.4.5", "::g",
                                                  std::string("1.2.3.4\0", 8)}) {
    EXPECT_FALSE(parse_numeric_ip(bad, 1).is_ok()) << bad;
  }
  // Numeric forms are the same with or without name lookups.
  for (const auto& c : cases) {
    auto e = parse_numeric_ip(c.in, c.port);
    ASSERT_TRUE(e.is_ok()) << c.in;
    EXPECT_EQ(e->to_string(), c.text);
  }
}

TEST(Net, HostNames) {
  // tcpserver(1): "a host name, allowing connections to the first IP
  // address for that host". localhost comes from /etc/hosts, offline.
  auto e = parse_ip("localhost", 2525);
  ASSERT_TRUE(e.is_ok()) << e.status().message();
  EXPECT_TRUE(e->ip() == "127.0.0.1" || e->ip() == "::1") << e->ip();
  EXPECT_EQ(e->port(), 2525);
  // Neither an address nor a name: refused without asking a resolver.
  for (std::string bad : std::vector<std::string>{
           "", "1.2.3", "1.2.3.4.5", "::g", "a b", "-x", "a..b", ".a", "a/b", "x\n",
           std::string("1.2.3.4\0", 8), std::string("localhost\0", 10)}) {
    auto r = parse_ip(bad, 1);
    ASSERT_FALSE(r.is_ok()) << bad;
    EXPECT_TRUE(r.status().is_perm()) << bad;
  }
}

TEST(Net, Ports) {
  for (auto parse : {parse_port, parse_numeric_port}) {
    EXPECT_EQ(*parse("0"), 0);
    EXPECT_EQ(*parse("25"), 25);
    EXPECT_EQ(*parse("65535"), 65535);
    EXPECT_FALSE(parse("65536").is_ok());
    EXPECT_FALSE(parse("").is_ok());
    EXPECT_FALSE(parse("-1").is_ok());
  }
  EXPECT_FALSE(parse_numeric_port("smtp").is_ok());
  // tcpserver(1): "port may be a name from /etc/services".
  auto smtp = parse_port("smtp");
  ASSERT_TRUE(smtp.is_ok()) << smtp.status().message();
  EXPECT_EQ(*smtp, 25);
  EXPECT_FALSE(parse_port("no-such-service-here").is_ok());
  EXPECT_FALSE(parse_port(std::string("smtp\0", 5)).is_ok());
}

TEST(Net, ListenConnectEnviron) {
  auto at = parse_ip("127.0.0.1", 0);
  ASSERT_TRUE(at.is_ok());
  auto l = listen_tcp(*at, 5);
  ASSERT_TRUE(l.is_ok()) << l.status().message();
  auto bound = local_endpoint(l->get());
  ASSERT_TRUE(bound.is_ok());
  ASSERT_NE(bound->port(), 0);
  auto c = connect_tcp(*bound, 5);
  ASSERT_TRUE(c.is_ok()) << c.status().message();
  auto peer = peer_endpoint(c->get());
  ASSERT_TRUE(peer.is_ok());
  EXPECT_EQ(peer->port(), bound->port());
  auto me = local_endpoint(c->get());
  ASSERT_TRUE(me.is_ok());
  Connection conn{*bound, *me, std::nullopt, std::string("h.example"), std::nullopt};
  auto env = tcp_environ(conn);
  std::map<std::string, std::optional<std::string>> m(env.begin(), env.end());
  EXPECT_EQ(m["PROTO"], "TCP");
  EXPECT_EQ(m["TCPLOCALPORT"], std::to_string(bound->port()));
  EXPECT_EQ(m["TCPREMOTEPORT"], std::to_string(me->port()));
  EXPECT_EQ(m["TCPREMOTEHOST"], "h.example");
  EXPECT_FALSE(m["TCPLOCALHOST"].has_value());
  EXPECT_FALSE(m["TCPREMOTEINFO"].has_value());
  EXPECT_EQ(m.size(), 8u);
}

TEST(Net, ConnectRefused) {
  auto at = parse_ip("127.0.0.1", 0);
  auto l = listen_tcp(*at, 1);
  ASSERT_TRUE(l.is_ok());
  auto bound = local_endpoint(l->get());
  l->reset();  // nothing listens there now
  auto c = connect_tcp(*bound, 5);
  ASSERT_FALSE(c.is_ok());
  EXPECT_TRUE(c.status().is_temp());
}

TEST(TcpsrvArgs, Options) {
  std::vector<std::string> words = {"-v", "-c10", "-i", "3",   "-x", "r.cdb", "-X",   "-l",
                                    "mx", "-u",   "5",  "-g6", "0",  "25",    "prog", "-a"};
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  auto o = tcpsrv::parse_args(argv);
  ASSERT_TRUE(o.is_ok()) << o.status().message();
  EXPECT_EQ(o->verbosity, 2);
  EXPECT_EQ(o->limit, 10u);
  EXPECT_EQ(o->per_ip, 3u);
  EXPECT_EQ(o->rules, "r.cdb");
  EXPECT_TRUE(o->rules_missing_ok);
  EXPECT_EQ(*o->local_host, "mx");
  EXPECT_EQ(*o->uid, 5u);
  EXPECT_EQ(*o->gid, 6u);
  EXPECT_EQ(o->host, "0");
  EXPECT_EQ(o->port, "25");
  EXPECT_EQ(o->program, (std::vector<std::string>{"prog", "-a"}));
}

TEST(TcpsrvArgs, DnsOptions) {
  std::vector<std::string> words = {
      "-hp", "-r", "bl.example", "-a", "ok.example", "-r", "-Perm.Example.", "0", "25", "prog"};
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  auto o = tcpsrv::parse_args(argv);
  ASSERT_TRUE(o.is_ok()) << o.status().message();
  EXPECT_TRUE(o->remote_host);
  EXPECT_TRUE(o->paranoid);
  ASSERT_EQ(o->rbl.size(), 3u);
  EXPECT_EQ(o->rbl[0].zone, "bl.example");
  EXPECT_FALSE(o->rbl[0].anti);
  EXPECT_TRUE(o->rbl[1].anti);
  EXPECT_EQ(o->rbl[2].zone, "perm.example");
  EXPECT_TRUE(o->rbl[2].permanent);
  std::vector<std::string> off = {"-h", "-p", "-H", "-P", "0", "25", "prog"};
  argv.clear();
  for (auto& w : off) argv.push_back(w.data());
  o = tcpsrv::parse_args(argv);
  ASSERT_TRUE(o.is_ok());
  EXPECT_FALSE(o->remote_host);
  EXPECT_FALSE(o->paranoid);
}

TEST(TcpsrvArgs, Errors) {
  for (std::vector<std::string> words :
       std::vector<std::vector<std::string>>{{},
                                             {"0", "25"},
                                             {"-c", "0", "0", "25", "p"},
                                             {"-c"},
                                             {"-Z", "0", "25", "p"},
                                             {"-r", "", "0", "25", "p"},
                                             {"-r", "a b", "0", "25", "p"},
                                             {"-r", "-", "0", "25", "p"}}) {
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    EXPECT_FALSE(tcpsrv::parse_args(argv).is_ok());
  }
}

}  // namespace
}  // namespace qmail::net
