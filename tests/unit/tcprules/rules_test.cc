#include "tcprules/rules.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace qmail::tcprules {
namespace {

using namespace std::string_literals;

TEST(RulesParse, Table) {
  struct Case {
    std::string line;
    std::vector<std::string> keys;
    std::string data;
  } cases[] = {
      {"18.23.0.32:deny", {"18.23.0.32"}, "D\0"s},
      {"127.:allow,RELAYCLIENT=\"\"", {"127."}, "+RELAYCLIENT=\0"s},
      {":allow", {""}, ""},
      {"=host.example:deny", {"=host.example"}, "D\0"s},
      {"=.Example.COM:allow", {"=.example.com"}, ""},
      {"Joe@127.0.0.1:allow", {"Joe@127.0.0.1"}, ""},
      {"1.2.3.4-6:deny", {"1.2.3.4", "1.2.3.5", "1.2.3.6"}, "D\0"s},
      {"::1:allow,X=/a,b/,Y=\"\"", {"::1"}, "+X=a,b\0+Y=\0"s},
      {"2001:db8::dead:deny", {"2001:db8::dead"}, "D\0"s},
      {"fe80::a:allow", {"fe80::a"}, ""},
      {"10.0.0.1:X=\"1\"", {"10.0.0.1"}, "+X=1\0"s},
      {"10.0.0.1:", {"10.0.0.1"}, ""},
      {"1.2.3.4:deny,allow", {"1.2.3.4"}, ""},
      {"1.2.3.4:allow\r", {"1.2.3.4"}, ""},
      {"1.2.3.4:deny \t", {"1.2.3.4"}, "D\0"s},
      {"10.2-3.:deny", {"10.2.", "10.3."}, "D\0"s},
      {"10.0-1.7:deny", {"10.0.7", "10.1.7"}, "D\0"s},
      {"joe@1.2.3.4-5:allow", {"joe@1.2.3.4", "joe@1.2.3.5"}, ""},
  };
  for (const auto& c : cases) {
    auto r = parse_line(c.line);
    ASSERT_TRUE(r.is_ok()) << c.line << ": " << r.status().message();
    ASSERT_TRUE(r->has_value()) << c.line;
    EXPECT_EQ((*r)->keys, c.keys) << c.line;
    EXPECT_EQ((*r)->data, c.data) << c.line;
  }
}

TEST(RulesParse, CommentsAndBlank) {
  for (std::string l : {"", "# x:deny", "\r", " \t "}) {
    auto r = parse_line(l);
    ASSERT_TRUE(r.is_ok());
    EXPECT_FALSE(r->has_value());
  }
}

TEST(RulesParse, Errors) {
  for (std::string l :
       {"1.2.3.4", "1.2.3.4:frob", "1.2.3.4:allow,X", "1.2.3.4:allow,X=\"abc",
        "1.2.3.4:allow,X=", "1.2.3.9-2:deny", "1.2.3.1-300:deny", "1.2.3.4:allowx",
        "1.2.3.4:allow;deny", "1.2.3.4:allow,=\"x\"", "10.2-3-4.:deny", "10.3-2.:deny"}) {
    EXPECT_FALSE(parse_line(l).is_ok()) << l;
  }
  auto r = parse("ok:allow\n\nbad\n");
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().message().rfind("line 3:", 0), 0u) << r.status().message();
}

TEST(RulesDecode, Table) {
  auto d = decode("D");
  ASSERT_TRUE(d.is_ok());
  EXPECT_FALSE(d->allow);
  d = decode("A+X=1\0+Y=\0-Z\0"s);
  ASSERT_TRUE(d.is_ok());
  EXPECT_TRUE(d->allow);
  ASSERT_EQ(d->env.size(), 2u);
  EXPECT_EQ(d->env[0], (std::pair<std::string, std::string>("X", "1")));
  EXPECT_EQ(d->env[1], (std::pair<std::string, std::string>("Y", "")));
  EXPECT_FALSE(decode("A+X=1").is_ok());
  EXPECT_FALSE(decode("A+X\0"s).is_ok());
  // tcprules' own format (ucspi-tcp 0.88, byte for byte).
  d = decode("");
  ASSERT_TRUE(d.is_ok());
  EXPECT_TRUE(d->allow);
  EXPECT_TRUE(d->env.empty());
  d = decode("D\0"s);
  ASSERT_TRUE(d.is_ok());
  EXPECT_FALSE(d->allow);
  d = decode("D\0+X=1\0"s);
  ASSERT_TRUE(d.is_ok());
  EXPECT_FALSE(d->allow);
  ASSERT_EQ(d->env.size(), 1u);
  d = decode("+WHO=a\0+B=\0"s);
  ASSERT_TRUE(d.is_ok());
  EXPECT_TRUE(d->allow);
  ASSERT_EQ(d->env.size(), 2u);
  EXPECT_EQ(d->env[0], (std::pair<std::string, std::string>("WHO", "a")));
  // The older qmail-tcprules format: "D+X=1\0" is a deny with X.
  d = decode("D+X=1\0"s);
  ASSERT_TRUE(d.is_ok());
  EXPECT_FALSE(d->allow);
  ASSERT_EQ(d->env.size(), 1u);
}

TEST(RulesParse, WritesWhatTcprulesWrites) {
  // The values ucspi-tcp's tcprules writes for the same lines.
  struct Case {
    std::string line, data;
  } cases[] = {
      {"127.0.0.3:deny", "D\0"s},
      {"127.0.0.30:allow,WHO=\"a\",B=\"\"", "+WHO=a\0+B=\0"s},
      {"127.:allow", ""},
      {"10.:deny,X=\"1\"", "D\0+X=1\0"s},
  };
  for (const auto& c : cases) {
    auto r = parse_line(c.line);
    ASSERT_TRUE(r.is_ok() && r->has_value()) << c.line;
    EXPECT_EQ((*r)->data, c.data) << c.line;
    auto d = decode((*r)->data);
    ASSERT_TRUE(d.is_ok()) << c.line;
    EXPECT_EQ(d->allow, c.data.rfind("D", 0) != 0) << c.line;
  }
}

TEST(RulesKeys, Order) {
  EXPECT_EQ(lookup_keys("1.2.3.4", "", ""),
            (std::vector<std::string>{"1.2.3.4", "1.2.3.", "1.2.", "1.", ""}));
  EXPECT_EQ(
      lookup_keys("1.2.3.4", "Mx.Example.com", "joe"),
      (std::vector<std::string>{"joe@1.2.3.4", "joe@=mx.example.com", "1.2.3.4", "=mx.example.com",
                                "1.2.3.", "1.2.", "1.", "=.example.com", "=.com", "=", ""}));
  EXPECT_EQ(lookup_keys("2001:db8::1", "", ""),
            (std::vector<std::string>{"2001:db8::1", "2001:db8::", "2001:db8:", "2001:", ""}));
}

class RulesCdb : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rules-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { EXPECT_EQ(std::system(("rm -rf " + dir_).c_str()), 0); }
  std::string dir_;
};

TEST_F(RulesCdb, FirstRuleWinsAndPrefixes) {
  auto rules = parse("1.2.3.4:allow,A=\"first\"\n1.2.3.4:deny\n1.2.:deny\n:allow,D=\"1\"\n");
  ASSERT_TRUE(rules.is_ok());
  std::string cdb = dir_ + "/r.cdb";
  ASSERT_TRUE(write_cdb(*rules, cdb, cdb + ".tmp").is_ok());
  EXPECT_NE(::access((cdb + ".tmp").c_str(), F_OK), 0);
  struct Case {
    std::string ip;
    bool allow;
    std::string env;
  } cases[] = {{"1.2.3.4", true, ""}, {"1.2.9.9", false, ""}, {"9.9.9.9", true, "D"}};
  for (const auto& c : cases) {
    auto d = lookup(cdb, c.ip, "", "", false);
    ASSERT_TRUE(d.is_ok()) << d.status().message();
    ASSERT_TRUE(d->has_value()) << c.ip;
    EXPECT_EQ((*d)->allow, c.allow) << c.ip;
    if (!c.env.empty()) {
      ASSERT_EQ((*d)->env.size(), 1u);
      EXPECT_EQ((*d)->env[0].first, c.env);
    }
  }
}

TEST_F(RulesCdb, NoMatchAndMissing) {
  auto rules = parse("1.2.3.4:deny\n");
  ASSERT_TRUE(rules.is_ok());
  std::string cdb = dir_ + "/r.cdb";
  ASSERT_TRUE(write_cdb(*rules, cdb, cdb + ".tmp").is_ok());
  auto d = lookup(cdb, "5.6.7.8", "", "", false);
  ASSERT_TRUE(d.is_ok());
  EXPECT_FALSE(d->has_value());
  EXPECT_TRUE(lookup(dir_ + "/missing", "1.2.3.4", "", "", true).is_ok());
  auto e = lookup(dir_ + "/missing", "1.2.3.4", "", "", false);
  ASSERT_FALSE(e.is_ok());
  EXPECT_TRUE(e.status().is_temp());
  EXPECT_EQ(e.status().err(), ENOENT);
}

TEST_F(RulesCdb, HostKeysAndCorruptData) {
  auto rules = parse("=mx.example:allow,NAMED=\"1\"\n=.example:deny\n");
  ASSERT_TRUE(rules.is_ok());
  std::string cdb = dir_ + "/r.cdb";
  ASSERT_TRUE(write_cdb(*rules, cdb, cdb + ".tmp").is_ok());
  auto named = lookup(cdb, "1.2.3.4", "MX.Example", "", false);
  ASSERT_TRUE(named.is_ok() && named->has_value());
  EXPECT_TRUE((*named)->allow);
  auto other = lookup(cdb, "1.2.3.4", "www.example", "", false);
  ASSERT_TRUE(other.is_ok() && other->has_value());
  EXPECT_FALSE((*other)->allow);
  // Data that is no rule (no NUL after a variable) is an error, not "allow".
  std::vector<Rule> bad = {Rule{{"1.2.3.4"}, "A+X=1"}};
  ASSERT_TRUE(write_cdb(bad, cdb, cdb + ".tmp").is_ok());
  auto e = lookup(cdb, "1.2.3.4", "", "", false);
  ASSERT_FALSE(e.is_ok());
  EXPECT_TRUE(e.status().is_temp());
  // A file that is no cdb at all.
  std::FILE* f = std::fopen(cdb.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("junk", f);
  std::fclose(f);
  EXPECT_FALSE(lookup(cdb, "1.2.3.4", "", "", false).is_ok());
}

}  // namespace
}  // namespace qmail::tcprules
