// Test helpers: a temporary queue tree made by make_queue.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "queue/layout.h"
#include "queue/make_queue.h"

namespace qmail::queue::testing {

namespace fsys = std::filesystem;

template <std::size_t N>
std::string bytes(const char (&lit)[N]) {
  return std::string(lit, N - 1);
}

inline std::string slurp(const fsys::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void spit(const fsys::path& p, const std::string& data) {
  std::ofstream(p, std::ios::binary) << data;
}

// Every regular file below `dir`, relative to it, sorted.
inline std::vector<std::string> files_under(const fsys::path& dir) {
  std::vector<std::string> out;
  for (auto& e : fsys::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(fsys::relative(e.path(), dir).string());
  std::sort(out.begin(), out.end());
  return out;
}

class TempQueue : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/queue-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    tmp_ = tmpl;
    q_ = std::make_unique<Layout>((tmp_ / "queue").string());
    Status s = make_queue(*q_, ::getuid(), ::getgid(), false);
    ASSERT_TRUE(s.is_ok()) << s.message();
  }
  void TearDown() override { fsys::remove_all(tmp_); }

  // Files in the queue other than the lock files.
  std::vector<std::string> queue_files() {
    std::vector<std::string> out;
    for (auto& f : files_under(tmp_ / "queue"))
      if (f.rfind("lock/", 0) != 0) out.push_back(f);
    return out;
  }

  // An fd reading `data` from a file (no pipe-buffer limits).
  int input(const std::string& name, const std::string& data) {
    fsys::path p = tmp_ / name;
    spit(p, data);
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_GE(fd, 0);
    fds_.push_back(fd);
    return fd;
  }

  ~TempQueue() override {
    for (int fd : fds_) ::close(fd);
  }

  fsys::path tmp_;
  std::unique_ptr<Layout> q_;
  std::vector<int> fds_;
};

}  // namespace qmail::queue::testing
