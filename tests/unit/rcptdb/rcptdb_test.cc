#include "rcptdb/rcptdb.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "cdb/reader.h"
#include "fs/fs.h"
#include "smtp/policy.h"

namespace qmail::rcptdb {
namespace {

using Set = std::set<std::string>;

TEST(Rcptdb, Representable) {
  EXPECT_EQ(representable(""), "");
  EXPECT_EQ(representable("fred-"), "fred-");
  EXPECT_EQ(representable("fred-ab"), "fred-");
  EXPECT_EQ(representable("fred"), "");
}

TEST(Rcptdb, Extensions) {
  std::vector<std::string> files = {".qmail",         ".qmail-Sales", ".qmail-a:b", "Maildir",
                                    ".qmail-default", ".qmail-",      ".qmailrc"};
  EXPECT_EQ(extensions(files, "-"), (std::vector<std::string>{"sales", "a.b", "default"}));
}

TEST(Rcptdb, ExtDeliverable) {
  Set exts = {"sales", "list-default", "x-"};
  struct Case {
    const char* ext;
    bool want;
  } cases[] = {{"", true},       {"sales", true},    {"sales-x", false},
               {"list-a", true}, {"list-a-b", true}, {"list-", true},
               {"list", false},  {"x-", true},       {"other", false}};
  for (const auto& c : cases) EXPECT_EQ(ext_deliverable(c.ext, exts), c.want) << c.ext;
  EXPECT_TRUE(ext_deliverable("anything-at-all", Set{"default"}));
}

TEST(Rcptdb, ExactEntries) {
  Names n;
  add_entry(n, "fred", false, "", Set{});               // .qmail or default delivery
  add_entry(n, "sales", false, "sales", Set{"sales"});  // needs .qmail-sales
  add_entry(n, "gone", false, "gone", Set{"other"});
  add_entry(n, "unknown", false, "x", std::nullopt);  // unreadable home: counts
  EXPECT_EQ(n.exact, (Set{"fred", "sales", "unknown"}));
  EXPECT_TRUE(n.wild.empty());
}

TEST(Rcptdb, WildcardEntries) {
  Names n;
  // +fred-:...:-:: with .qmail-list, .qmail-dev-default, .qmail-a:b
  add_entry(n, "fred-", true, "", Set{"list", "dev-default", "a.b"});
  EXPECT_EQ(n.exact, (Set{"fred-", "fred-list", "fred-a.b"}));
  EXPECT_EQ(n.wild, (Set{"fred-dev-"}));
  Names d;
  add_entry(d, "joe-", true, "", Set{"default"});
  EXPECT_EQ(d.wild, (Set{"joe-"}));
  // pre "box-": local joe-R has extension box-R.
  Names p;
  add_entry(p, "joe-", true, "box-", Set{"box-in", "other", "box-list-default", "default"});
  EXPECT_EQ(p.exact, (Set{"joe-", "joe-in"}));
  EXPECT_EQ(p.wild, (Set{"joe-list-", "joe-"}));
  // The alias user: prefix "", everything; .qmail-default catches all.
  Names a;
  add_entry(a, "", true, "", Set{"postmaster", "mailer-daemon", "default"});
  EXPECT_EQ(a.exact, (Set{"postmaster", "mailer-daemon"}));
  EXPECT_EQ(a.wild, (Set{""}));
  Names u;
  add_entry(u, "bob-", true, "", std::nullopt);
  EXPECT_EQ(u.wild, (Set{"bob-"}));
}

TEST(Rcptdb, DomainKeys) {
  Names n;
  n.exact = {"fred", "fred-list", "vd-sales", "vd-", "other"};
  n.wild = {"fred-dev-", "vd-team-"};
  Set keys;
  add_domain_keys(keys, n, "Example.Test", "");
  // "vd-" is left out: as a key it would accept every vd-anything.
  EXPECT_EQ(keys, (Set{"fred@example.test", "fred-list@example.test", "vd-sales@example.test",
                       "other@example.test", "fred-dev-@example.test", "vd-team-@example.test"}));
  Set v;
  add_domain_keys(v, n, "virt.test", "vd");
  EXPECT_EQ(v, (Set{"sales@virt.test", "team-@virt.test"}));
  Set all;
  Names catchall;
  catchall.wild = {"fred-"};
  add_domain_keys(all, catchall, "virt.test", "fred");
  EXPECT_EQ(all, (Set{"@virt.test"}));
  Set one;
  add_address_key(one, n, "Sales", "virt.test", "vd");
  add_address_key(one, n, "nobody", "virt.test", "vd");
  add_address_key(one, n, "x", "virt.test", "fred-dev");
  EXPECT_EQ(one, (Set{"sales@virt.test", "x@virt.test"}));
}

TEST(Rcptdb, ParseExtra) {
  std::vector<std::size_t> bad;
  auto keys = parse_extra("# extra\nJoe@Example.Test  \n\nlist-\nbad address\n@backup.test\n" +
                              std::string(2000, 'a') + "\n",
                          {"a.test", "b.test"}, &bad);
  EXPECT_EQ(keys, (std::vector<std::string>{"joe@example.test", "list-@a.test", "list-@b.test",
                                            "@backup.test"}));
  EXPECT_EQ(bad, (std::vector<std::size_t>{5, 7}));
}

class BuildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rcptdb-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    home_ = tmpl;
    for (const char* d : {"/control", "/users", "/alias", "/fred", "/joe"})
      ASSERT_EQ(::mkdir((home_ + d).c_str(), 0755), 0);
  }
  void TearDown() override { std::filesystem::remove_all(home_); }
  void put(const std::string& rel, const std::string& text) {
    std::ofstream(home_ + "/" + rel) << text;
  }
  std::string home_;
};

TEST_F(BuildTest, WholeHome) {
  put("users/assign", "=fred:fred:1000:1000:" + home_ + "/fred:::\n+fred-:fred:1000:1000:" + home_ +
                          "/fred:-::\n+joe-:joe:1001:1001:" + home_ +
                          "/joe:-::\n=ghost:g:1:1:" + home_ + "/missing:-:x:\n.\n");
  put("fred/.qmail-list", "./Maildir/\n");
  put("joe/.qmail-default", "./Maildir/\n");
  put("alias/.qmail-postmaster", "&fred\n");
  put("alias/.qmail-sales", "&fred\n");
  put("control/me", "example.test\n");
  put("control/locals", "example.test\nlocalhost\n");
  put("control/virtualdomains", "virt.test:joe\nvd2.test:fred\nsolo.test:\nbob@one.test:joe\n");
  put("control/rcpthosts", "example.test\nvirt.test\nvd2.test\nbackup.test\n.wild.test\n");
  put("control/recipients", "extra@example.test\n");
  auto r = build(home_);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  bool warned_wild = false, warned_missing = false;
  for (const auto& w : r->warnings) {
    warned_wild = warned_wild || w.find("wild.test") != std::string::npos;
    warned_missing = warned_missing || w.find("missing") != std::string::npos;
  }
  EXPECT_TRUE(warned_wild);
  EXPECT_TRUE(warned_missing);

  auto rc = smtp::Recipients::open(home_ + "/control/recipients.cdb");
  ASSERT_TRUE(rc.is_ok());
  ASSERT_TRUE(rc->enabled());
  struct Case {
    const char* local;
    const char* domain;
    bool want;
  } cases[] = {
      {"fred", "example.test", true},   {"FRED", "Example.Test", true},
      {"fred-list", "localhost", true}, {"fred-nolist", "example.test", false},
      {"joe", "example.test", false},   {"joe-anything", "example.test", true},
      {"sales", "example.test", true},  {"nobody", "example.test", false},
      {"ghost", "example.test", true},  {"postmaster", "virt.test", true},
      {"anything", "virt.test", true},  {"list", "vd2.test", true},
      {"other", "vd2.test", false},     {"whatever", "backup.test", true},
      {"extra", "example.test", true},  {"bob", "one.test", true},
      {"alice", "one.test", false},     {"x", "sub.wild.test", false},
  };
  for (const auto& c : cases) {
    auto got = rc->accepts(c.local, c.domain);
    ASSERT_TRUE(got.is_ok());
    EXPECT_EQ(*got, c.want) << c.local << "@" << c.domain;
  }
  // A later assign change is picked up by refresh_if_enabled (qmail-newu).
  put("users/assign", "=nobody:n:1:1:" + home_ + "/fred:::\n.\n");
  auto again = refresh_if_enabled(home_);
  ASSERT_TRUE(again.is_ok());
  ASSERT_TRUE(again->has_value());
  auto rc2 = smtp::Recipients::open(home_ + "/control/recipients.cdb");
  EXPECT_TRUE(*rc2->accepts("nobody", "example.test"));
  EXPECT_FALSE(*rc2->accepts("fred", "example.test"));
  EXPECT_FALSE(fs::exists(home_ + "/control/recipients.cdb.tmp"));
}

TEST_F(BuildTest, OffUnlessPresentAndBadAssignKeepsOld) {
  auto r = refresh_if_enabled(home_);
  ASSERT_TRUE(r.is_ok());
  EXPECT_FALSE(r->has_value());
  EXPECT_FALSE(fs::exists(home_ + "/control/recipients.cdb"));
  put("control/me", "example.test\n");
  ASSERT_TRUE(build(home_).is_ok());  // no assign at all: alias only
  put("users/assign", "=broken\n.\n");
  auto bad = build(home_);
  EXPECT_FALSE(bad.is_ok());
  EXPECT_TRUE(fs::exists(home_ + "/control/recipients.cdb"));
}

}  // namespace
}  // namespace qmail::rcptdb
