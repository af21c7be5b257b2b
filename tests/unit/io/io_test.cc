#include "io/io.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/fd.h"

namespace qmail {
namespace {

Fd pipe_with(const std::string& data) {
  int p[2];
  EXPECT_EQ(::pipe(p), 0);
  EXPECT_TRUE(io::write_all(p[1], data).is_ok());
  ::close(p[1]);
  return Fd(p[0]);
}

TEST(Reader, ReadsLinesAndFinalPartialLine) {
  Fd fd = pipe_with("one\ntwo\nthree");
  io::Reader r(fd.get(), 4);  // tiny buffer forces refills
  EXPECT_EQ(*r.read_line(100), "one");
  EXPECT_EQ(*r.read_line(100), "two");
  EXPECT_EQ(*r.read_line(100), "three");
  auto end = r.read_line(100);
  EXPECT_FALSE(end.is_ok());
  EXPECT_TRUE(r.eof());
}

TEST(Reader, LineTooLongIsAnError) {
  Fd fd = pipe_with("abcdefgh\n");
  io::Reader r(fd.get());
  auto got = r.read_until('\n', 5);
  ASSERT_FALSE(got.is_ok());
  EXPECT_EQ(got.status().message(), "line too long");
}

TEST(Reader, TruncatedRecordIsAnError) {
  Fd fd = pipe_with(std::string("Fa\0Tb", 5));
  io::Reader r(fd.get());
  EXPECT_EQ(*r.read_until('\0', 100), "Fa");
  auto got = r.read_until('\0', 100);
  ASSERT_FALSE(got.is_ok());
  EXPECT_EQ(got.status().message(), "truncated");
}

TEST(ReadAll, RespectsLimit) {
  Fd fd = pipe_with("0123456789");
  auto got = io::read_all(fd.get(), 5);
  EXPECT_FALSE(got.is_ok());
  Fd fd2 = pipe_with("0123");
  EXPECT_EQ(*io::read_all(fd2.get(), 5), "0123");
}

TEST(ReadAll, ExactlyTheLimitIsFine) {
  Fd fd = pipe_with("01234");
  EXPECT_EQ(*io::read_all(fd.get(), 5), "01234");
  Fd empty = pipe_with("");
  EXPECT_EQ(*io::read_all(empty.get(), 5), "");
}

// Larger than any one read (the string grows as it goes) and arriving in
// pieces: every byte, in order.
TEST(ReadAll, LongInputArrivesWhole) {
  std::string data;
  for (int i = 0; data.size() < 300000; ++i) data += std::to_string(i) + ",";
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  Fd r(p[0]);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(p[0]);
    for (std::size_t at = 0; at < data.size(); at += 777)
      if (!io::write_all(p[1], std::string_view(data).substr(at, 777)).is_ok()) ::_exit(1);
    ::_exit(0);
  }
  ::close(p[1]);
  auto got = io::read_all(r.get(), data.size());
  int st = 0;
  ::waitpid(pid, &st, 0);
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(*got, data);
  EXPECT_EQ(st, 0);
}

}  // namespace
}  // namespace qmail
