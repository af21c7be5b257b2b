#include "users/users.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>

#include "fs/fs.h"
#include "io/fd.h"

namespace qmail::users {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/users-test-XXXXXX";
    QMAIL_CHECK(::mkdtemp(tmpl) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(ParseAssign, GoodLines) {
  auto r = parse_assign(
      "=joe.shmoe:joe:503:78:/home/joe:::\n"
      "+joe-:joe:507:100:/home/joe:-:pre:\n"
      "+:alias:7790:2108:/var/qmail/alias:-::ignored:junk\n"
      ".\n"
      "anything after the dot is ignored\n");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  ASSERT_EQ(r->size(), 3u);
  AssignLine want0{false, "joe.shmoe", {"joe", 503, 78, "/home/joe", "", ""}};
  AssignLine want1{true, "joe-", {"joe", 507, 100, "/home/joe", "-", "pre"}};
  AssignLine want2{true, "", {"alias", 7790, 2108, "/var/qmail/alias", "-", ""}};
  EXPECT_EQ((*r)[0], want0);
  EXPECT_EQ((*r)[1], want1);
  EXPECT_EQ((*r)[2], want2);
}

TEST(ParseAssign, Table) {
  struct Case {
    std::string in;
    bool ok;
    std::string error;  // substring of the message when !ok
  } cases[] = {
      {".\n", true, ""},
      {".", true, ""},
      {"", false, "line 1: missing final line"},
      {"=a:u:1:2:/h:::\n", false, "line 2: missing final line"},
      {"=a:u:1:2:/h:::", false, "line 1: missing final line"},
      {"=a:u:1:2:/h::\n.\n", false, "line 1: has fewer than seven fields"},
      {"\n.\n", false, "line 1: does not begin with = or +"},
      {"-a:u:1:2:/h:::\n.\n", false, "does not begin"},
      {"=a:u:x:2:/h:::\n.\n", false, "uid is not a number"},
      {"=a:u:1:-2:/h:::\n.\n", false, "gid is not a number"},
      {"=a:u:4294967295:2:/h:::\n.\n", false, "uid is not a number"},
      {"=a:u:4294967294:2:/h:::\n.\n", true, ""},
      {"=a:u:1:2:h:::\n.\n", false, "homedir is not absolute"},
      {"=a:u:1:2::::\n.\n", false, "homedir is not absolute"},
      {std::string("=a\0:u:1:2:/h:::\n.\n", 18), false, "contains NUL"},
      {"=a:u:1:2:/h:::\n=b:u:1:2:/h:::\n\n.\n", false, "line 3:"},
      {"=:u:1:2:/h:::\n.\n", true, ""},
  };
  for (const auto& c : cases) {
    auto r = parse_assign(c.in);
    EXPECT_EQ(r.is_ok(), c.ok) << c.in;
    if (!c.ok && !r.is_ok()) {
      EXPECT_TRUE(r.status().is_perm()) << c.in;
      EXPECT_NE(r.status().message().find(c.error), std::string::npos)
          << c.in << " got: " << r.status().message();
    }
  }
}

TEST(FormatAssign, RoundTrips) {
  std::string text =
      "=joe:joe:507:100:/home/joe:::\n"
      "+joe-:joe:507:100:/home/joe:-:x:\n"
      ".\n";
  auto r = parse_assign(text);
  ASSERT_TRUE(r.is_ok());
  std::string again;
  for (const auto& l : *r) again += format_assign(l) + "\n";
  EXPECT_EQ(again + ".\n", text);
}

// The example of qmail-users(5), plus a few more cases.
TEST(Lookup, LikeQmailLspawn) {
  TempDir d;
  std::string cdb = d.path() + "/cdb";
  auto lines = parse_assign(
      "+:alias:7790:2108:/var/qmail/alias:-::\n"
      "+joe-:joe:507:100:/home/joe:-::\n"
      "=joe:joe:507:100:/home/joe:::\n"
      "=Mixed.Case:mc:600:600:/home/mc:::\n"
      "+joe-list-:list:508:100:/home/list:-:l-:\n"
      "=joe:second:1:1:/second:::\n"
      "+joe-:second:1:1:/second:-::\n"
      ".\n");
  ASSERT_TRUE(lines.is_ok()) << lines.status().message();
  ASSERT_TRUE(write_cdb(cdb, *lines).is_ok());

  struct Case {
    std::string local;
    Entry want;
  } cases[] = {
      {"joe", {"joe", 507, 100, "/home/joe", "", ""}},
      {"JOE", {"joe", 507, 100, "/home/joe", "", ""}},
      {"joe-direct", {"joe", 507, 100, "/home/joe", "-", "direct"}},
      {"joe-Direct", {"joe", 507, 100, "/home/joe", "-", "Direct"}},
      {"Joe-", {"joe", 507, 100, "/home/joe", "-", ""}},
      {"joe-list-x", {"list", 508, 100, "/home/list", "-", "l-x"}},
      {"joe-list-", {"list", 508, 100, "/home/list", "-", "l-"}},
      {"joe-list", {"joe", 507, 100, "/home/joe", "-", "list"}},
      {"bill", {"alias", 7790, 2108, "/var/qmail/alias", "-", "bill"}},
      {"joey", {"alias", 7790, 2108, "/var/qmail/alias", "-", "joey"}},
      {"mixed.case", {"mc", 600, 600, "/home/mc", "", ""}},
      {"", {"alias", 7790, 2108, "/var/qmail/alias", "-", ""}},
  };
  for (const auto& c : cases) {
    auto r = lookup(cdb, c.local);
    ASSERT_TRUE(r.is_ok()) << c.local << ": " << r.status().message();
    ASSERT_TRUE(r->has_value()) << c.local;
    EXPECT_EQ(**r, c.want) << c.local;
  }
}

TEST(Lookup, NoMatchWithoutCatchAll) {
  TempDir d;
  std::string cdb = d.path() + "/cdb";
  auto lines = parse_assign("=joe:joe:507:100:/home/joe:::\n+ab:x:1:1:/x:-::\n.\n");
  ASSERT_TRUE(lines.is_ok());
  ASSERT_TRUE(write_cdb(cdb, *lines).is_ok());
  for (const char* local : {"jo", "joex", "a", "", "bab"}) {
    auto r = lookup(cdb, local);
    ASSERT_TRUE(r.is_ok()) << local;
    EXPECT_FALSE(r->has_value()) << local;
  }
  auto r = lookup(cdb, "abc");
  ASSERT_TRUE(r.is_ok() && r->has_value());
  EXPECT_EQ((*r)->ext, "c");
}

TEST(Lookup, EmptyTable) {
  TempDir d;
  std::string cdb = d.path() + "/cdb";
  ASSERT_TRUE(write_cdb(cdb, {}).is_ok());
  auto r = lookup(cdb, "anyone");
  ASSERT_TRUE(r.is_ok());
  EXPECT_FALSE(r->has_value());
}

TEST(Lookup, MissingCdbIsEnoent) {
  TempDir d;
  auto r = lookup(d.path() + "/cdb", "joe");
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(r.status().is_temp());
  EXPECT_EQ(r.status().err(), ENOENT);
}

TEST(Lookup, CorruptCdbIsTemp) {
  TempDir d;
  std::string cdb = d.path() + "/cdb";
  ASSERT_TRUE(fs::write_file_durable(cdb, "garbage").is_ok());
  auto r = lookup(cdb, "joe");
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(r.status().is_temp());
  EXPECT_NE(r.status().err(), ENOENT);
}

TEST(Lookup, SeesEveryNewVersionOfTheCdb) {
  // lookup keeps the cdb mapped between calls (qmail-lspawn): a new cdb
  // renamed over it (qmail-newu), one copied over it in place, and its
  // removal are each seen by the next lookup.
  TempDir d;
  std::string cdb = d.path() + "/cdb";
  auto one = parse_assign("=a:one:1:1:/one:::\n.\n");
  auto two = parse_assign("=a:two:2:2:/two:::\n.\n");
  auto three = parse_assign("=a:three:3:3:/three:::\n.\n");
  ASSERT_TRUE(write_cdb(cdb, *one).is_ok());
  auto r = lookup(cdb, "a");
  ASSERT_TRUE(r.is_ok() && r->has_value());
  EXPECT_EQ((*r)->user, "one");
  ASSERT_TRUE(write_cdb(cdb, *two).is_ok());
  r = lookup(cdb, "a");
  ASSERT_TRUE(r.is_ok() && r->has_value());
  EXPECT_EQ((*r)->user, "two");
  // In place, same inode: cp(1) over it.
  std::string other = d.path() + "/other";
  ASSERT_TRUE(write_cdb(other, *three).is_ok());
  auto bytes = fs::read_file(other, 1 << 20);
  ASSERT_TRUE(bytes.is_ok());
  auto before = fs::stat(cdb);
  {
    Fd fd(::open(cdb.c_str(), O_WRONLY | O_TRUNC));
    ASSERT_TRUE(fd.valid());
    ASSERT_EQ(::write(fd.get(), bytes->data(), bytes->size()), static_cast<ssize_t>(bytes->size()));
  }
  ASSERT_EQ(fs::stat(cdb)->st_ino, before->st_ino);
  r = lookup(cdb, "a");
  ASSERT_TRUE(r.is_ok() && r->has_value());
  EXPECT_EQ((*r)->user, "three");
  ASSERT_EQ(::unlink(cdb.c_str()), 0);
  r = lookup(cdb, "a");
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().err(), ENOENT);
}

TEST(WriteCdb, ReplacesAtomicallyAndLeavesNoTemp) {
  TempDir d;
  std::string cdb = d.path() + "/cdb";
  auto one = parse_assign("=a:one:1:1:/one:::\n.\n");
  auto two = parse_assign("=a:two:2:2:/two:::\n.\n");
  ASSERT_TRUE(write_cdb(cdb, *one).is_ok());
  ASSERT_TRUE(write_cdb(cdb, *two).is_ok());
  auto r = lookup(cdb, "a");
  ASSERT_TRUE(r.is_ok() && r->has_value());
  EXPECT_EQ((*r)->user, "two");
  EXPECT_FALSE(fs::exists(cdb + ".tmp"));
  auto st = fs::stat(cdb);
  ASSERT_TRUE(st.is_ok());
  EXPECT_EQ(st->st_mode & 07777, 0644u);
}

TEST(Newu, BadAssignKeepsOldCdb) {
  TempDir d;
  ASSERT_TRUE(fs::mkdir(d.path() + "/users", 0755).is_ok());
  std::string assign = d.path() + "/users/assign";
  ASSERT_TRUE(fs::write_file_durable(assign, "=a:one:1:1:/one:::\n.\n").is_ok());
  ASSERT_TRUE(newu(d.path()).is_ok());
  ASSERT_TRUE(fs::write_file_durable(assign, "=a:two:2:2:/two:::\nbroken\n.\n").is_ok());
  Status s = newu(d.path());
  EXPECT_TRUE(s.is_perm());
  EXPECT_NE(s.message().find("line 2"), std::string::npos) << s.message();
  auto r = lookup(d.path() + "/users/cdb", "a");
  ASSERT_TRUE(r.is_ok() && r->has_value());
  EXPECT_EQ((*r)->user, "one");
}

TEST(Newu, MissingAssignIsTemp) {
  TempDir d;
  EXPECT_TRUE(newu(d.path()).is_temp());
}

}  // namespace
}  // namespace qmail::users
