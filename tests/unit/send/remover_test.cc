#include "send/remover.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace qmail::send {
namespace {

namespace fsys = std::filesystem;

class RemoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/remover-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fsys::remove_all(dir_); }
  std::string file(const std::string& name) {
    std::string p = (dir_ / name).string();
    std::ofstream(p) << "x";
    return p;
  }
  std::vector<Remover::Done> wait(Remover& r, std::size_t n) {
    std::vector<Remover::Done> all;
    while (all.size() < n) {
      pollfd p{r.fd(), POLLIN, 0};
      EXPECT_EQ(::poll(&p, 1, 10000), 1);
      for (auto& d : r.take()) all.push_back(d);
    }
    return all;
  }
  fsys::path dir_;
};

TEST_F(RemoverTest, RemovesInOrderAndReports) {
  Remover r;
  ASSERT_TRUE(r.start().is_ok());
  std::string a = file("a"), b = file("b");
  r.submit(7, {a, (dir_ / "missing").string(), b});
  r.submit(8, {file("c")});
  EXPECT_EQ(r.pending(), 2u);
  auto done = wait(r, 2);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[0].id, 7u);
  EXPECT_EQ(done[0].failed, "");
  EXPECT_EQ(done[1].id, 8u);
  EXPECT_FALSE(fsys::exists(a));
  EXPECT_FALSE(fsys::exists(b));
  EXPECT_FALSE(fsys::exists(dir_ / "c"));
  EXPECT_EQ(r.pending(), 0u);
}

TEST_F(RemoverTest, StopsAtTheFirstFailure) {
  Remover r;
  ASSERT_TRUE(r.start().is_ok());
  fsys::create_directories(dir_ / "sub" / "x");  // unlink of a directory fails
  std::string after = file("after");
  r.submit(9, {(dir_ / "sub").string(), after});
  auto done = wait(r, 1);
  EXPECT_EQ(done[0].failed, (dir_ / "sub").string());
  EXPECT_TRUE(fsys::exists(after));  // not reached: the order is kept
}

}  // namespace
}  // namespace qmail::send
