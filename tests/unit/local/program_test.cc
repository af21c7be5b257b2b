#include "local/program.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

#include "io/io.h"

namespace qmail::local {
namespace {

int message_fd(std::string_view data) {
  char name[] = "/tmp/qmail-program-test.XXXXXX";
  int fd = ::mkstemp(name);
  ::unlink(name);
  EXPECT_TRUE(io::write_all(fd, data).is_ok());
  return fd;
}

TEST(ProgramTest, RunShellGivesMessageFromStartAndCapturesOutput) {
  int fd = message_fd("line one\nline two\n");
  ::lseek(fd, 0, SEEK_END);
  auto r = run_shell("head -n 1; echo err >&2; exit 3", fd);
  ::close(fd);
  ASSERT_TRUE(r.is_ok());
  EXPECT_FALSE(r->exec_failed);
  EXPECT_FALSE(r->signaled);
  EXPECT_EQ(r->code, 3);
  EXPECT_EQ(r->output, "line one\nerr\n");
}

TEST(ProgramTest, OutputIsBounded) {
  int fd = message_fd("");
  auto r = run_shell("head -c 200000 /dev/zero", fd);
  ::close(fd);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->code, 0);
  EXPECT_EQ(r->output.size(), kMaxProgramOutput);
}

TEST(ProgramTest, Signals) {
  int fd = message_fd("");
  auto r = run_shell("kill -TERM $$", fd);
  ::close(fd);
  ASSERT_TRUE(r.is_ok());
  EXPECT_TRUE(r->signaled);
  EXPECT_EQ(classify(*r), Outcome::kTemp);
}

TEST(ProgramTest, RunArgvReportsExecFailure) {
  auto r = run_argv({"/nonexistent/program"});
  ASSERT_TRUE(r.is_ok());
  EXPECT_TRUE(r->exec_failed);
  auto ok = run_argv({"sh", "-c", "exit 7"});
  ASSERT_TRUE(ok.is_ok());
  EXPECT_FALSE(ok->exec_failed);
  EXPECT_EQ(ok->code, 7);
}

TEST(ProgramTest, Classify) {
  struct Case {
    int code;
    Outcome want;
  } cases[] = {{0, Outcome::kSuccess}, {99, Outcome::kSuccessSkipRest},
               {100, Outcome::kPerm},  {64, Outcome::kPerm},
               {65, Outcome::kPerm},   {70, Outcome::kPerm},
               {76, Outcome::kPerm},   {77, Outcome::kPerm},
               {78, Outcome::kPerm},   {112, Outcome::kPerm},
               {111, Outcome::kTemp},  {1, Outcome::kTemp},
               {255, Outcome::kTemp}};
  for (const Case& c : cases) {
    ProgramResult r;
    r.code = c.code;
    EXPECT_EQ(classify(r), c.want) << c.code;
  }
}

}  // namespace
}  // namespace qmail::local
