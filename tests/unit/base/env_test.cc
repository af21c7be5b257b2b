#include "base/env.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdlib>
#include <string>
#include <vector>

extern char** environ;

namespace qmail::env {
namespace {

// Each test starts from a small environment of its own and puts the
// process's back at the end.
class EnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (char** e = environ; e && *e; ++e) process_.push_back(*e);
    process_.push_back(nullptr);
    restore(base_);
  }
  void TearDown() override { restore(process_); }

  std::string a_ = "A=1", b_ = "B=2";
  std::vector<char*> base_{a_.data(), b_.data(), nullptr};
  std::vector<char*> process_;
};

TEST_F(EnvTest, SetReplacesOrAdds) {
  set("B", "3");
  set("C", "x=y");
  EXPECT_STREQ(std::getenv("A"), "1");
  EXPECT_STREQ(std::getenv("B"), "3");
  EXPECT_STREQ(std::getenv("C"), "x=y");
  set("C", "");
  EXPECT_STREQ(std::getenv("C"), "");
  int n = 0;
  for (char** e = environ; *e; ++e) ++n;
  EXPECT_EQ(n, 3);
}

TEST_F(EnvTest, NameMatchesWholeName) {
  set("AB", "long");
  EXPECT_STREQ(std::getenv("A"), "1");
  unset("A");
  EXPECT_EQ(std::getenv("A"), nullptr);
  EXPECT_STREQ(std::getenv("AB"), "long");
}

TEST_F(EnvTest, UnsetRemovesAndMissingIsNoOp) {
  unset("A");
  unset("NOPE");
  EXPECT_EQ(std::getenv("A"), nullptr);
  EXPECT_STREQ(std::getenv("B"), "2");
  set("A", "again");
  EXPECT_STREQ(std::getenv("A"), "again");
}

TEST_F(EnvTest, RestorePutsBackTheSavedEnvironment) {
  set("A", "changed");
  set("NEW", "1");
  unset("B");
  restore(base_);
  EXPECT_STREQ(std::getenv("A"), "1");
  EXPECT_STREQ(std::getenv("B"), "2");
  EXPECT_EQ(std::getenv("NEW"), nullptr);
}

TEST_F(EnvTest, WorksAfterLibcChangedTheEnvironment) {
  ASSERT_EQ(::setenv("LIBC", "yes", 1), 0);
  ::unsetenv("A");
  set("MINE", "1");
  EXPECT_STREQ(std::getenv("LIBC"), "yes");
  EXPECT_STREQ(std::getenv("MINE"), "1");
  EXPECT_EQ(std::getenv("A"), nullptr);
  EXPECT_STREQ(std::getenv("B"), "2");
}

// The first use in a process whose environment was cleared (environ
// null): a fresh process, so the death-test style that re-executes.
TEST(EnvFirstUse, AfterClearenv) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        ::clearenv();
        set("A", "1");
        const char* a = std::getenv("A");
        std::exit(a && std::string(a) == "1" && environ[1] == nullptr ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

// The point of the module: a worker's thousands of uses, each setting
// new values, cost no memory once each use is over. (glibc's setenv
// keeps every value: this loop would leave megabytes behind.)
TEST_F(EnvTest, RestoreFreesEverySetValue) {
  auto in_use = [] { return mallinfo2().uordblks; };
  for (int i = 0; i < 100; ++i) {  // warm up the containers
    set("TCPREMOTEPORT", std::to_string(i));
    restore(base_);
  }
  std::size_t before = in_use();
  std::string big(1000, 'x');
  for (int i = 0; i < 20000; ++i) {
    set("TCPREMOTEPORT", std::to_string(i));
    set("SENDER", big + std::to_string(i));
    unset("DEFAULT");
    restore(base_);
  }
  std::size_t after = in_use();
  EXPECT_LT(after, before + 4096) << "before " << before << ", after " << after;
}

}  // namespace
}  // namespace qmail::env
