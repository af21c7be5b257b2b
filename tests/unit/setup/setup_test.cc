#include "setup/setup.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>

#include "fs/fs.h"
#include "home/home.h"
#include "setup/showctl.h"

namespace qmail::setup {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/setup-test-XXXXXX";
    QMAIL_CHECK(::mkdtemp(tmpl) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(ConfigFast, DomainRules) {
  struct Case {
    const char* fqdn;
    const char* defaultdomain;
    const char* plusdomain;
  } cases[] = {
      {"mail.example.com", "example.com", "example.com"},
      {"a.b.c.d", "b.c.d", "c.d"},
      {"example.test", "example.test", "example.test"},
      {"localhost", "localhost", "localhost"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(default_domain(c.fqdn), c.defaultdomain) << c.fqdn;
    EXPECT_EQ(plus_domain(c.fqdn), c.plusdomain) << c.fqdn;
  }
}

TEST(ConfigFast, WritesControlFilesOnce) {
  TempDir d;
  ASSERT_TRUE(fs::mkdir(d.path() + "/control", 0755).is_ok());
  ASSERT_TRUE(fs::write_file_durable(d.path() + "/control/locals", "other.test").is_ok());
  std::vector<std::string> report;
  ASSERT_TRUE(config_fast(d.path(), "Mail.Example.COM", &report).is_ok());
  ASSERT_TRUE(config_fast(d.path(), "mail.example.com", &report).is_ok());
  struct Case {
    const char* file;
    const char* want;
  } cases[] = {
      {"me", "mail.example.com\n"},        {"defaultdomain", "example.com\n"},
      {"plusdomain", "example.com\n"},     {"locals", "other.test\nmail.example.com\n"},
      {"rcpthosts", "mail.example.com\n"},
  };
  for (const auto& c : cases) {
    auto got = fs::read_file(d.path() + "/control/" + c.file, 1000);
    ASSERT_TRUE(got.is_ok()) << c.file;
    EXPECT_EQ(*got, c.want) << c.file;
  }
}

TEST(ConfigFast, BadHostNames) {
  TempDir d;
  ASSERT_TRUE(fs::mkdir(d.path() + "/control", 0755).is_ok());
  std::vector<std::string> report;
  for (const char* bad : {"", "a b", "a\nb", "a/b", "x@y"})
    EXPECT_TRUE(config_fast(d.path(), bad, &report).is_perm()) << bad;
  EXPECT_FALSE(fs::exists(d.path() + "/control/me"));
}

TEST(Ids, FormatReadsBackWithLoadIdsFormat) {
  Owners o = single_user_owners("me", 1000, 1001);
  EXPECT_EQ(format_ids(o),
            "alias:1000:1001\nqmaild:1000:1001\nqmaill:1000:1001\nqmailp:1000:1001\n"
            "qmailq:1000:1001\nqmailr:1000:1001\nqmails:1000:1001\n"
            "qmail:1001:1001\nnofiles:1001:1001\n");
}

TEST(Programs, ListHasTheCoreProgramsOnce) {
  std::set<std::string_view> seen;
  for (std::string_view p : programs()) EXPECT_TRUE(seen.insert(p).second) << p;
  for (const char* p : {"qmail-queue", "qmail-send", "qmail-setup", "sendmail", "qmail-getpw"})
    EXPECT_TRUE(seen.count(p)) << p;
}

// install() in a single-user home made from a fake build directory.
TEST(Install, SingleUserTreeAndIdempotence) {
  TempDir d;
  std::string exe = d.path() + "/build";
  std::string man = d.path() + "/man";
  ASSERT_TRUE(fs::mkdir(exe, 0755).is_ok());
  ASSERT_TRUE(fs::mkdir(man, 0755).is_ok());
  ASSERT_TRUE(fs::write_file_durable(exe + "/qmail-send", "#!/bin/sh\n", 0755).is_ok());
  ASSERT_TRUE(fs::write_file_durable(exe + "/qmail-queue", "#!/bin/sh\n", 0755).is_ok());
  ASSERT_TRUE(fs::write_file_durable(exe + "/unit_tests", "#!/bin/sh\n", 0755).is_ok());
  ASSERT_TRUE(fs::write_file_durable(exe + "/qmail-inject", "not executable", 0644).is_ok());
  ASSERT_TRUE(fs::write_file_durable(man + "/qmail-send.8", ".TH x\n").is_ok());
  ASSERT_TRUE(fs::write_file_durable(man + "/notes.txt", "x").is_ok());

  Options opt{d.path() + "/home", exe, {d.path() + "/nowhere", man}};
  Owners o = single_user_owners("me", ::geteuid(), ::getegid());
  for (int round = 0; round < 2; ++round) {
    Warnings w;
    ASSERT_TRUE(install(opt, o, &w).is_ok()) << round;
    ASSERT_EQ(w.size(), 1u);
    EXPECT_NE(w[0].find("qmail-inject"), std::string::npos);
    EXPECT_EQ(w[0].find("qmail-send "), std::string::npos);
    if (round == 0) {
      ASSERT_TRUE(fs::write_file_durable(opt.home + "/queue/mess/0/77", "message").is_ok());
    }
  }
  struct Case {
    const char* path;
    mode_t mode;
  } cases[] = {
      {"", 0755},
      {"bin", 0755},
      {"bin/qmail-send", 0711},
      {"bin/qmail-queue", 0755},  // no setuid bit in a single-user home
      {"man/man8/qmail-send.8", 0644},
      {"control", 0755},
      {"users/ids", 0644},
      {"users/assign", 0644},
      {"users/cdb", 0644},
      {"alias", 02755},
      {"alias/Maildir/new", 0700},
      {"alias/.qmail-postmaster", 0644},
      {"queue", 0750},
      {"queue/mess/22", 0750},
      {"queue/mess/0/77", 0644},
  };
  for (const auto& c : cases) {
    auto st = fs::lstat(opt.home + "/" + c.path);
    ASSERT_TRUE(st.is_ok()) << c.path;
    EXPECT_EQ(st->st_mode & 07777, c.mode) << c.path;
    EXPECT_EQ(st->st_uid, ::geteuid()) << c.path;
  }
  EXPECT_FALSE(fs::exists(opt.home + "/bin/unit_tests"));
  EXPECT_FALSE(fs::exists(opt.home + "/man/man8/notes.txt"));
  EXPECT_EQ(*fs::read_file(opt.home + "/users/assign", 100), ".\n");
  EXPECT_EQ(*fs::read_file(opt.home + "/alias/.qmail-postmaster", 100), "./Maildir/\n");
  EXPECT_EQ(*fs::read_file(opt.home + "/queue/mess/0/77", 100), "message");
}

TEST(Install, KeepsTheAdminsFiles) {
  TempDir d;
  Options opt{d.path() + "/home", d.path(), {}};
  Owners o = single_user_owners("me", ::geteuid(), ::getegid());
  Warnings w;
  ASSERT_TRUE(install(opt, o, &w).is_ok());
  std::string assign = "=joe:me:1:1:/j:::\n.\n";
  ASSERT_TRUE(fs::write_file_durable(opt.home + "/users/assign", assign).is_ok());
  ASSERT_TRUE(fs::write_file_durable(opt.home + "/alias/.qmail-root", "&joe\n").is_ok());
  ASSERT_TRUE(install(opt, o, &w).is_ok());
  EXPECT_EQ(*fs::read_file(opt.home + "/users/assign", 100), assign);
  EXPECT_EQ(*fs::read_file(opt.home + "/alias/.qmail-root", 100), "&joe\n");
}

TEST(Install, RefusesRelativeHome) {
  Warnings w;
  Owners o = single_user_owners("me", ::geteuid(), ::getegid());
  EXPECT_FALSE(install(Options{"relative/home", "/nonexistent", {}}, o, &w).is_ok());
}

TEST(Showctl, DescribesDefaultsValuesAndStrangers) {
  TempDir d;
  ASSERT_TRUE(fs::mkdir(d.path() + "/control", 0755).is_ok());
  auto put = [&](const char* name, const char* text) {
    ASSERT_TRUE(fs::write_file_durable(d.path() + "/control/" + name, text).is_ok());
  };
  put("me", "host.example\n");
  put("concurrencyremote", "7\n");
  put("databytes", "lots\n");
  put("locals", "a.example\n# comment\n\nb.example  \n");
  put("mystery", "?\n");
  auto r = showctl(d.path());
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  for (const char* want : {
           "qmail home directory: ",
           "\nme: My name is host.example.\n",
           "\nconcurrencyremote: Remote concurrency is 7.\n",
           "\nconcurrencylocal: (Default.) Local concurrency is 10.\n",
           "\ndatabytes: Oops! Not a number: lots.\n",
           "\nhelohost: (Default.) SMTP client HELO host name is host.example.\n",
           "\nlocals: \nMessages for a.example are delivered locally.\n"
           "Messages for b.example are delivered locally.\n",
           "\nrcpthosts: (Default.) SMTP clients may send messages to any recipient.\n",
           "\nmorercpthosts: (Default.) No rcpthosts; morercpthosts is irrelevant.\n",
           "\nmystery: I have no idea what this file does.\n",
           "users/ids is missing",
       }) {
    EXPECT_NE(r->find(want), std::string::npos) << want << "\n--- got:\n" << *r;
  }
}

}  // namespace
}  // namespace qmail::setup
