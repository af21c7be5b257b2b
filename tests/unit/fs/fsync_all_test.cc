#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "fs/fs.h"

namespace qmail::fs {
namespace {

class FsyncAll : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/qmail-fsync-all-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(FsyncAll, ManyFilesAndDirectories) {
  std::vector<Fd> fds;
  std::vector<std::string> dirs;
  for (int i = 0; i < 40; ++i) {
    std::string d = dir_ + "/d" + std::to_string(i);
    ASSERT_TRUE(mkdir(d, 0700).is_ok());
    dirs.push_back(d);
    auto fd = open_excl(d + "/f");
    ASSERT_TRUE(fd.is_ok());
    ASSERT_EQ(::write(fd->get(), "x", 1), 1);
    fds.push_back(std::move(*fd));
  }
  std::vector<const Fd*> files;
  for (const Fd& fd : fds) files.push_back(&fd);
  EXPECT_TRUE(fsync_all(files, dirs).is_ok());
  EXPECT_TRUE(fsync_all({}, {}).is_ok());
}

TEST_F(FsyncAll, ReportsAFailureButTriesTheRest) {
  auto fd = open_excl(dir_ + "/f");
  ASSERT_TRUE(fd.is_ok());
  Fd bad;  // no descriptor (-1): fsync fails with EBADF
  Status s = fsync_all({&*fd, &bad}, {dir_});
  EXPECT_FALSE(s.is_ok());
  EXPECT_TRUE(s.is_temp());
  // A missing directory is an error too.
  s = fsync_all({&*fd}, {dir_ + "/nonexistent"});
  EXPECT_FALSE(s.is_ok());
}

}  // namespace
}  // namespace qmail::fs
