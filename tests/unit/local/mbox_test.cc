#include "local/mbox.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/io.h"

namespace qmail::mbox {
namespace {

class MboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/qmail-mbox-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  int message(std::string_view data) {
    std::string p = root_ + "/msg";
    int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    EXPECT_TRUE(io::write_all(fd, data).is_ok());
    return fd;
  }
  std::string slurp(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  std::string root_;
};

TEST_F(MboxTest, AppendsInMboxrdForm) {
  std::string box = root_ + "/Mailbox";
  int fd = message("Subject: a\n\nFrom x\n>From y\n");
  ASSERT_TRUE(deliver(box, "From s@x Thu Jan  1 00:00:00 1970\n", "RP\nDT\n", fd).is_ok());
  ::close(fd);
  fd = message("Subject: b\n\nno newline");
  ASSERT_TRUE(deliver(box, "From t@x Thu Jan  1 00:00:00 1970\n", "", fd).is_ok());
  ::close(fd);
  EXPECT_EQ(slurp(box),
            "From s@x Thu Jan  1 00:00:00 1970\nRP\nDT\nSubject: a\n\n>From x\n>>From y\n\n"
            "From t@x Thu Jan  1 00:00:00 1970\nSubject: b\n\nno newline\n\n");
}

TEST_F(MboxTest, LockTimesOut) {
  std::string box = root_ + "/Mailbox";
  int holder = ::open(box.c_str(), O_WRONLY | O_CREAT, 0600);
  ASSERT_EQ(::flock(holder, LOCK_EX), 0);
  int other = ::open(box.c_str(), O_WRONLY);
  Status s = lock(other, 1);
  EXPECT_TRUE(s.is_temp());
  EXPECT_NE(s.message().find("Timeout"), std::string::npos) << s.message();
  ::close(holder);
  EXPECT_TRUE(lock(other, 1).is_ok());
  ::close(other);
}

}  // namespace
}  // namespace qmail::mbox
