#include "local/maildir.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "io/io.h"

namespace qmail::maildir {
namespace {

namespace stdfs = std::filesystem;

class MaildirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/qmail-maildir-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { stdfs::remove_all(root_); }
  int message(std::string_view data) {
    std::string p = root_ + "/msg";
    int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    EXPECT_TRUE(io::write_all(fd, data).is_ok());
    return fd;
  }
  static std::string slurp(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  std::string root_;
};

TEST_F(MaildirTest, MakeCreatesPrivateSubdirectories) {
  std::string d = root_ + "/Maildir";
  ASSERT_TRUE(make(d).is_ok());
  for (const char* sub : {"", "/tmp", "/new", "/cur"}) {
    struct stat st;
    ASSERT_EQ(::stat((d + sub).c_str(), &st), 0) << sub;
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0700u) << sub;
  }
  EXPECT_FALSE(make(d).is_ok());  // never reuses an existing directory
}

// Both ways of writing the file: unnamed in tmp/ (O_TMPFILE, the
// default) and tmp/<name> (the fallback).
TEST_F(MaildirTest, DeliverWritesPrefixAndMessageExactly) {
  for (bool unnamed : {true, false}) {
    std::string d = root_ + (unnamed ? "/Maildir/" : "/Named/");
    ASSERT_TRUE(make(d).is_ok());
    int fd = message("Subject: hi\n\nno final newline");
    ::lseek(fd, 5, SEEK_SET);  // deliver() must not depend on the offset
    auto name = deliver(d, "Return-Path: <a@b>\nDelivered-To: c@d\n", fd, unnamed);
    ::close(fd);
    ASSERT_TRUE(name.is_ok()) << name.status().message();
    EXPECT_EQ(name->rfind("new/", 0), 0u);
    EXPECT_EQ(slurp(d + *name),
              "Return-Path: <a@b>\nDelivered-To: c@d\nSubject: hi\n\nno final newline");
    EXPECT_TRUE(stdfs::is_empty(d + "tmp"));
    struct stat st;
    ASSERT_EQ(::stat((d + *name).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(st.st_nlink, 1u) << unnamed;
  }
}

TEST_F(MaildirTest, NamesAreUniqueWithinAProcess) {
  for (bool unnamed : {true, false}) {
    std::string d = root_ + (unnamed ? "/Maildir/" : "/Named/");
    ASSERT_TRUE(make(d).is_ok());
    int fd = message("x\n");
    std::set<std::string> names;
    for (int i = 0; i < 50; ++i) {
      auto name = deliver(d, "", fd, unnamed);
      ASSERT_TRUE(name.is_ok());
      names.insert(*name);
    }
    ::close(fd);
    EXPECT_EQ(names.size(), 50u);
    EXPECT_TRUE(stdfs::is_empty(d + "tmp"));
  }
}

TEST_F(MaildirTest, WithoutATmpDirectoryNothingIsDelivered) {
  std::string d = root_ + "/Maildir/";
  ASSERT_TRUE(make(d).is_ok());
  ASSERT_EQ(::rmdir((d + "tmp").c_str()), 0);
  int fd = message("x\n");
  auto name = deliver(d, "", fd);
  ::close(fd);
  ASSERT_FALSE(name.is_ok());
  EXPECT_TRUE(name.status().is_temp());
  EXPECT_TRUE(stdfs::is_empty(d + "new"));
}

TEST_F(MaildirTest, MissingMaildirIsTemporary) {
  int fd = message("x\n");
  auto name = deliver(root_ + "/nope/", "", fd);
  ::close(fd);
  ASSERT_FALSE(name.is_ok());
  EXPECT_TRUE(name.status().is_temp());
  EXPECT_NE(name.status().message().find("(#4.2.1)"), std::string::npos);
}

TEST(MaildirNameTest, UniqueNameAndSafeHost) {
  EXPECT_EQ(unique_name(1700000000, 42, 123, 7, "mx.example"), "1700000000.M42P123Q7.mx.example");
  EXPECT_EQ(safe_host("a/b:c"), "a\\057b\\072c");
  EXPECT_EQ(safe_host(""), "localhost");
}

}  // namespace
}  // namespace qmail::maildir
