#include "users/getpw.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace qmail::users {
namespace {

// Accounts that pass qmail-getpw's rules.
const std::map<std::string, Entry> kUsers = {
    {"joe", {"joe", 507, 100, "/home/joe", "", ""}},
    {"joe-bob", {"joe-bob", 508, 100, "/home/joe-bob", "", ""}},
    {"alias", {"alias", 7790, 2108, "/var/qmail/alias", "", ""}},
    {"abcdefghijklmnopqrstuvwxyz01234", {"abcdefghijklmnopqrstuvwxyz01234", 600, 1, "/l", "", ""}},
    {"abcdefghijklmnopqrstuvwxyz012345", {"x", 601, 1, "/x", "", ""}},
};

Result<std::optional<Entry>> fake_find(const std::string& name) {
  if (name == "nfs") return Status::temp("unable to stat /nfs");
  auto it = kUsers.find(name);
  if (it == kUsers.end()) return std::optional<Entry>();
  return std::optional<Entry>(it->second);
}

GetpwConfig config(bool system_users) {
  GetpwConfig c;
  c.alias = {"alias", 7790, 2108, "/home/q/alias", "", ""};
  c.system_users = system_users;
  return c;
}

TEST(Getpw, RootHomeTable) {
  struct Case {
    std::string local;
    Entry want;
  } cases[] = {
      {"joe", {"joe", 507, 100, "/home/joe", "", ""}},
      {"JOE", {"joe", 507, 100, "/home/joe", "", ""}},
      {"joe-", {"joe", 507, 100, "/home/joe", "-", ""}},
      {"Joe-Direct", {"joe", 507, 100, "/home/joe", "-", "Direct"}},
      {"joe-bob", {"joe-bob", 508, 100, "/home/joe-bob", "", ""}},
      {"joe-bob-x-y", {"joe-bob", 508, 100, "/home/joe-bob", "-", "x-y"}},
      {"joe-bobby", {"joe", 507, 100, "/home/joe", "-", "bobby"}},
      {"joey", {"alias", 7790, 2108, "/home/q/alias", "-", "joey"}},
      {"bill-joe", {"alias", 7790, 2108, "/home/q/alias", "-", "bill-joe"}},
      {"-joe", {"alias", 7790, 2108, "/home/q/alias", "-", "-joe"}},
      {"", {"alias", 7790, 2108, "/home/q/alias", "-", ""}},
      // An account named alias gets HOME/alias, not its passwd home.
      {"alias-postmaster", {"alias", 7790, 2108, "/home/q/alias", "-", "postmaster"}},
      // qmail-getpw(8): names are shorter than 32 characters.
      {"abcdefghijklmnopqrstuvwxyz01234-x",
       {"abcdefghijklmnopqrstuvwxyz01234", 600, 1, "/l", "-", "x"}},
      {"abcdefghijklmnopqrstuvwxyz012345",
       {"alias", 7790, 2108, "/home/q/alias", "-", "abcdefghijklmnopqrstuvwxyz012345"}},
  };
  for (const auto& c : cases) {
    auto r = getpw(c.local, config(true), fake_find);
    ASSERT_TRUE(r.is_ok()) << c.local;
    EXPECT_EQ(*r, c.want) << c.local;
  }
}

// Another home set up later may have moved the alias account's passwd
// home (or it is gone): this home's alias account still gets HOME/alias,
// and alias-postmaster is still the account alias with extension
// postmaster, not the catch-all.
TEST(Getpw, AliasAccountWhateverItsPasswdHome) {
  auto no_alias_home = [](const std::string& name) -> Result<std::optional<Entry>> {
    if (name == "alias") return std::optional<Entry>();  // home missing: rule fails
    return fake_find(name);
  };
  auto r = getpw("alias-postmaster", config(true), no_alias_home);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(*r, (Entry{"alias", 7790, 2108, "/home/q/alias", "-", "postmaster"}));
  r = getpw("Alias", config(true), no_alias_home);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(*r, (Entry{"alias", 7790, 2108, "/home/q/alias", "", ""}));
}

TEST(Getpw, SingleUserHomeIgnoresAccounts) {
  for (const char* local : {"joe", "joe-x", "alias", "root", "Mixed"}) {
    auto r = getpw(local, config(false), fake_find);
    ASSERT_TRUE(r.is_ok());
    Entry want{"alias", 7790, 2108, "/home/q/alias", "-", local};
    EXPECT_EQ(*r, want) << local;
  }
}

TEST(Getpw, TroubleIsTemp) {
  auto r = getpw("nfs-x", config(true), fake_find);
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(r.status().is_temp());
}

// Home owners for pw2u: /home/joe is joe's, /home/bad is someone else's,
// the rest is missing.
Result<std::optional<uid_t>> fake_owner(const std::string& path) {
  if (path == "/home/joe") return std::optional<uid_t>(507);
  if (path == "/home/ann") return std::optional<uid_t>(509);
  if (path == "/home/bad") return std::optional<uid_t>(1);
  if (path == "/q/alias") return std::optional<uid_t>(7790);
  if (path == "/err") return Status::temp("unable to stat /err");
  return std::optional<uid_t>();
}

const Entry kAlias{"alias", 7790, 2108, "/q/alias", "", ""};

const char kPasswd[] =
    "root:x:0:0:root:/root:/bin/sh\n"
    "joe:x:507:100:Joe:/home/joe:/bin/sh\n"
    "Upper:x:508:100::/home/joe:/bin/sh\n"
    "bad:x:510:100::/home/bad:/bin/sh\n"
    "gone:x:511:100::/home/gone:/bin/sh\n"
    "short:x:512:100::/home/short\n"
    "ann:x:509:100::/home/ann:\n";

TEST(Pw2u, DefaultRules) {
  auto r = pw2u(kPasswd, {}, {}, kAlias, fake_owner);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(*r,
            "=joe:joe:507:100:/home/joe:::\n"
            "+joe-:joe:507:100:/home/joe:-::\n"
            "=ann:ann:509:100:/home/ann:::\n"
            "+ann-:ann:509:100:/home/ann:-::\n"
            "+:alias:7790:2108:/q/alias:-::\n"
            ".\n");
  // The output is a valid assign file.
  EXPECT_TRUE(parse_assign(*r).is_ok());
}

TEST(Pw2u, OptionsTable) {
  struct Case {
    const char* what;
    Pw2uOptions opt;
    std::string passwd;
    std::string want;
  } cases[] = {
      {"-H -u",
       {0, true, '-', false},
       "Upper:x:508:100::/nowhere:/bin/sh\n",
       "=Upper:Upper:508:100:/nowhere:::\n+Upper-:Upper:508:100:/nowhere:-::\n"
       "+:alias:7790:2108:/q/alias:-::\n.\n"},
      {"-C",
       {2, false, '\0', false},
       "joe:x:507:100::/home/joe:\n",
       "=joe:joe:507:100:/home/joe:::\n+:alias:7790:2108:/q/alias:-::\n.\n"},
      {"-c+",
       {2, false, '+', false},
       "joe:x:507:100::/home/joe:\n",
       "=joe:joe:507:100:/home/joe:::\n+joe+:joe:507:100:/home/joe:-::\n"
       "+:alias:7790:2108:/q/alias:-::\n.\n"},
      {"-/",
       {2, false, '-', true},
       "joe:x:507:100::/home/joe:\n",
       "=joe:joe:507:100:/home/joe:::\n+joe-:joe:507:100:/home/joe:-/::\n"
       "+:alias:7790:2108:/q/alias:-/::\n.\n"},
      {"passwd alias gets HOME/alias",
       {},
       "alias:x:7790:2108::/var/qmail/alias:\n",
       "+:alias:7790:2108:/q/alias:-::\n=alias:alias:7790:2108:/q/alias:::\n"
       "+alias-:alias:7790:2108:/q/alias:-::\n.\n"},
  };
  for (const auto& c : cases) {
    auto r = pw2u(c.passwd, c.opt, {}, kAlias, fake_owner);
    ASSERT_TRUE(r.is_ok()) << c.what << ": " << r.status().message();
    EXPECT_EQ(*r, c.want) << c.what;
  }
}

TEST(Pw2u, Errors) {
  Pw2uOptions stop;
  stop.home_strategy = 1;
  EXPECT_TRUE(
      pw2u("gone:x:511:100::/home/gone:\n", stop, {}, kAlias, fake_owner).status().is_temp());
  EXPECT_TRUE(pw2u("e:x:511:100::/err:\n", {}, {}, kAlias, fake_owner).status().is_temp());
  auto no_alias = pw2u("joe:x:507:100::/home/joe:\n", {}, {}, std::nullopt, fake_owner);
  ASSERT_FALSE(no_alias.is_ok());
  EXPECT_NE(no_alias.status().message().find("alias"), std::string::npos);
  Pw2uFiles files;
  files.subusers = "sub:nobody:pre:\n";
  EXPECT_FALSE(pw2u("joe:x:507:100::/home/joe:\n", {}, files, kAlias, fake_owner).is_ok());
}

TEST(Pw2u, Files) {
  Pw2uFiles files;
  files.include = std::set<std::string>{"joe", "ann"};
  files.exclude = std::set<std::string>{"ann"};
  files.mailnames = std::map<std::string, std::string>{{"joe", "joe.shmoe:js"}};
  files.subusers = "list:joe:list:\nbroken line\n";
  files.append = "=extra:x:1:1:/x:::";
  auto r = pw2u(kPasswd, {}, files, kAlias, fake_owner);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(*r,
            "=joe.shmoe:joe:507:100:/home/joe:::\n"
            "+joe.shmoe-:joe:507:100:/home/joe:-::\n"
            "=js:joe:507:100:/home/joe:::\n"
            "+js-:joe:507:100:/home/joe:-::\n"
            "+:alias:7790:2108:/q/alias:-::\n"
            "=list:joe:507:100:/home/joe:-:list:\n"
            "+list-:joe:507:100:/home/joe:-:list-:\n"
            "=extra:x:1:1:/x:::\n"
            ".\n");
  EXPECT_TRUE(parse_assign(*r).is_ok());
}

}  // namespace
}  // namespace qmail::users
