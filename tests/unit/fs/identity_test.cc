#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "fs/fs.h"

namespace qmail::fs {
namespace {

struct stat stat_of(const std::string& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st;
}

// file_identity's text is equal exactly when same_file says so: the same
// file unchanged; not another file, not the file changed in place.
TEST(FileIdentity, EqualTextMeansSameFile) {
  auto dir =
      std::filesystem::temp_directory_path() / ("qmail-identity-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string a = dir / "a", b = dir / "b";
  std::ofstream(a) << "one";
  std::ofstream(b) << "one";
  struct stat a1 = stat_of(a), a2 = stat_of(a), b1 = stat_of(b);
  EXPECT_TRUE(same_file(a1, a2));
  EXPECT_EQ(file_identity(a1), file_identity(a2));
  EXPECT_FALSE(same_file(a1, b1));
  EXPECT_NE(file_identity(a1), file_identity(b1));
  std::ofstream(a, std::ios::app) << "two";
  struct stat a3 = stat_of(a);
  EXPECT_FALSE(same_file(a1, a3));
  EXPECT_NE(file_identity(a1), file_identity(a3));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace qmail::fs
