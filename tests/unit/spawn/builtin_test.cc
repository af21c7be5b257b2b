#include "spawn/builtin.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace qmail::spawn {
namespace {

class MarkTokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/qmail-mark-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    std::string p = dir_ + "/" + name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  std::string dir_;
};

// Not an ELF file with the section: carries_mark says no, and so does
// the token.
TEST_F(MarkTokenTest, NoMarkNoToken) {
  std::string p = write("plain", "#!/bin/sh\nexit 0\n");
  EXPECT_EQ(mark_token(p, QMAIL_BUILTIN_MARK_REMOTE), "");
  EXPECT_EQ(mark_token(dir_ + "/missing", QMAIL_BUILTIN_MARK_REMOTE), "");
}

// A token names one file as it was: the same file matches; the file
// changed, replaced, or gone does not; nor does an empty or absent token.
TEST_F(MarkTokenTest, TokenNamesTheFileAsItWas) {
  std::string self = "/proc/self/exe";
  char buf[4096];
  ssize_t n = ::readlink(self.c_str(), buf, sizeof buf);
  ASSERT_GT(n, 0);
  // A file that carries the mark: our qmail-remote, built beside us.
  std::string exe(buf, static_cast<std::size_t>(n));
  std::string remote = exe.substr(0, exe.rfind('/')) + "/qmail-remote";
  std::string token = mark_token(remote, QMAIL_BUILTIN_MARK_REMOTE);
  ASSERT_FALSE(token.empty()) << remote;
  EXPECT_TRUE(token_names_file(remote, token.c_str()));
  EXPECT_EQ(mark_token(remote, QMAIL_BUILTIN_MARK_LOCAL), "");  // another program's mark

  std::string copy = dir_ + "/qmail-remote";
  ASSERT_EQ(std::system(("cp " + remote + " " + copy).c_str()), 0);
  std::string t2 = mark_token(copy, QMAIL_BUILTIN_MARK_REMOTE);
  ASSERT_FALSE(t2.empty());
  EXPECT_NE(t2, token);  // another inode
  EXPECT_FALSE(token_names_file(copy, token.c_str()));
  EXPECT_TRUE(token_names_file(copy, t2.c_str()));
  std::ofstream(copy, std::ios::app) << "x";  // changed in place
  EXPECT_FALSE(token_names_file(copy, t2.c_str()));
  ::unlink(copy.c_str());
  EXPECT_FALSE(token_names_file(copy, t2.c_str()));
  EXPECT_FALSE(token_names_file(remote, ""));
  EXPECT_FALSE(token_names_file(remote, nullptr));
}

}  // namespace
}  // namespace qmail::spawn
