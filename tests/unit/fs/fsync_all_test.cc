#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
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

TEST_F(FsyncAll, NamedFilesGetTheirFsyncToo) {
  auto a = open_excl(dir_ + "/a");
  auto b = open_excl(dir_ + "/b");
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  EXPECT_TRUE(fsync_all({&*a}, {}, {&*b}).is_ok());
  Fd bad;
  EXPECT_FALSE(fsync_all({&*a}, {}, {&bad}).is_ok());
}

// The filesystem type of the mount holding `path`, found another way than
// the code under test: the longest mount point in /proc/mounts that is a
// prefix of the path.
std::string type_by_mount_point(const std::string& path) {
  std::ifstream in("/proc/mounts");
  std::string line, best_type;
  std::size_t best = 0;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string source, point, type;
    f >> source >> point >> type;
    bool prefix = point == "/" || path == point || path.rfind(point + "/", 0) == 0;
    if (prefix && point.size() >= best) best = point.size(), best_type = type;
  }
  return best_type;
}

TEST_F(FsyncAll, FileFsyncCoversItsNameOnlyOnExt4) {
  auto f = open_excl(dir_ + "/f");
  ASSERT_TRUE(f.is_ok());
  std::string real = std::filesystem::canonical(dir_);
  EXPECT_EQ(fsync_covers_new_name(f->get()), type_by_mount_point(real) == "ext4") << real;
  // Asked again (the answer per device is kept): the same.
  EXPECT_EQ(fsync_covers_new_name(f->get()), type_by_mount_point(real) == "ext4");
  // A second name: never (either could be the parent the kernel writes).
  ASSERT_EQ(::link((dir_ + "/f").c_str(), (dir_ + "/g").c_str()), 0);
  EXPECT_FALSE(fsync_covers_new_name(f->get()));
  // A directory: never.
  auto d = open_dir(dir_);
  ASSERT_TRUE(d.is_ok());
  EXPECT_FALSE(fsync_covers_new_name(d->get()));
  EXPECT_FALSE(fsync_covers_new_name(-1));
}

TEST(FsyncCoversNewName, NotOnTmpfs) {
  if (type_by_mount_point("/dev/shm") != "tmpfs") GTEST_SKIP() << "no tmpfs at /dev/shm";
  char tmpl[] = "/dev/shm/qmail-fsync-XXXXXX";
  int fd = ::mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  Fd f(fd);
  EXPECT_FALSE(fsync_covers_new_name(f.get()));
  ::unlink(tmpl);
}

}  // namespace
}  // namespace qmail::fs
