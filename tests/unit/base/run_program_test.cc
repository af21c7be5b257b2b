#include "base/run_program.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

namespace qmail {
namespace {

// A program started with descriptors 0-2 closed gets /dev/null there, so
// the files it opens never take those numbers.
int opens_above_two(std::span<char*>) {
  int fd = ::open("/dev/null", O_RDONLY);
  return fd > 2 ? 0 : 1;
}

[[noreturn]] void run_with_standard_descriptors_closed() {
  ::close(0);
  ::close(1);
  ::close(2);
  char name[] = "t";
  char* argv[] = {name, nullptr};
  std::_Exit(run_program("t", 1, argv, opens_above_two, 111));
}

TEST(RunProgramDeathTest, ClosedStandardDescriptorsAreFilled) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(run_with_standard_descriptors_closed(), ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace qmail
