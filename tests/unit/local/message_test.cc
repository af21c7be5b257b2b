#include "local/message.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

#include "io/io.h"

namespace qmail::local {
namespace {

std::string quote(const std::vector<std::string>& chunks, bool* partial = nullptr) {
  FromQuoter q;
  std::string out;
  for (const std::string& c : chunks) q.put(c, out);
  q.finish(out);
  if (partial) *partial = q.partial_last_line();
  return out;
}

TEST(MessageTest, FromQuotingIsMboxrd) {
  EXPECT_EQ(quote({"From x\n"}), ">From x\n");
  EXPECT_EQ(quote({"a\nFrom x\n>From y\n>>From z\nFromage\n"}),
            "a\n>From x\n>>From y\n>>>From z\nFromage\n");
  EXPECT_EQ(quote({"From: header\n"}), "From: header\n");
  EXPECT_EQ(quote({" From x\n"}), " From x\n");
  EXPECT_EQ(quote({">>\n", "From"}), ">>\nFrom");
}

TEST(MessageTest, FromQuotingAcrossChunks) {
  EXPECT_EQ(quote({"x\nFr", "om", " y\n"}), "x\n>From y\n");
  EXPECT_EQ(quote({">", ">F", "rom z"}), ">>>From z");
  // Every split point of one input gives the same output.
  std::string in = "a\n>From b\nFrom c\nFro\nFrom";
  std::string want = quote({in});
  for (std::size_t i = 0; i <= in.size(); ++i) {
    EXPECT_EQ(quote({in.substr(0, i), in.substr(i)}), want) << i;
  }
}

TEST(MessageTest, PartialLastLine) {
  bool partial = true;
  quote({"a\n"}, &partial);
  EXPECT_FALSE(partial);
  quote({"a\nb"}, &partial);
  EXPECT_TRUE(partial);
  quote({""}, &partial);
  EXPECT_FALSE(partial);
  quote({"Fro"}, &partial);
  EXPECT_TRUE(partial);
}

TEST(MessageTest, Lines) {
  EXPECT_EQ(dtline("joe@x.org"), "Delivered-To: joe@x.org\n");
  EXPECT_EQ(dtline("a\nb@x"), "Delivered-To: a_b@x\n");
  EXPECT_EQ(rpline(""), "Return-Path: <>\n");
  EXPECT_EQ(rpline("s@x\n"), "Return-Path: <s@x_>\n");
  EXPECT_EQ(asctime_gmt(820631134), "Wed Jan  3 01:05:34 1996");
  EXPECT_EQ(ufline("", 820631134), "From MAILER-DAEMON Wed Jan  3 01:05:34 1996\n");
  EXPECT_EQ(ufline("a b\tc\nd", 0), "From a-b-c-d Thu Jan  1 00:00:00 1970\n");
}

class TempFile {
 public:
  explicit TempFile(std::string_view data) {
    char name[] = "/tmp/qmail-message-test.XXXXXX";
    fd_ = ::mkstemp(name);
    ::unlink(name);
    EXPECT_TRUE(io::write_all(fd_, data).is_ok());
  }
  ~TempFile() { ::close(fd_); }
  int fd() const { return fd_; }

 private:
  int fd_;
};

TEST(MessageTest, HeaderHasLine) {
  const std::string field = "Delivered-To: joe@x.org";
  struct Case {
    std::string msg;
    bool want;
  } cases[] = {
      {"Delivered-To: joe@x.org\n\nbody\n", true},
      {"A: b\nDelivered-To: joe@x.org\nC: d\n\n", true},
      // qmail-local(8): only exactly the same line.
      {"A: b\ndelivered-to: joe@x.org\nC: d\n\n", false},
      {"Delivered-To: JOE@x.org\n\n", false},
      {"Delivered-To: joe@X.ORG\n\n", false},
      {"Delivered-To: joe@x.org", true},
      {"Delivered-To: joe@x.orgX\n\n", false},
      {"Delivered-To:  joe@x.org\n\n", false},
      {"X-Delivered-To: joe@x.org\n\n", false},
      {"A: b\n\nDelivered-To: joe@x.org\n", false},
      {"", false},
      {std::string(200000, 'x') + "\nDelivered-To: joe@x.org\n\n", true},
  };
  for (const Case& c : cases) {
    TempFile f(c.msg);
    auto got = header_has_line(f.fd(), field);
    ASSERT_TRUE(got.is_ok());
    EXPECT_EQ(*got, c.want) << c.msg.substr(0, 60);
  }
}

TEST(MessageTest, ForEachChunkReadsFromStartRegardlessOfOffset) {
  std::string data(200000, 'q');
  data += "end";
  TempFile f(data);
  ASSERT_EQ(::lseek(f.fd(), 100, SEEK_SET), 100);
  std::string got;
  ASSERT_TRUE(for_each_chunk(f.fd(), [&](std::string_view c) {
                got.append(c);
                return Status::ok();
              }).is_ok());
  EXPECT_EQ(got, data);
}

TEST(MessageTest, SeekableMessageCopiesAPipe) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  ASSERT_TRUE(io::write_all(p[1], "piped message\n").is_ok());
  ::close(p[1]);
  auto fd = seekable_message(p[0]);
  ::close(p[0]);
  ASSERT_TRUE(fd.is_ok()) << fd.status().message();
  char buf[64];
  ssize_t n = ::pread(fd->get(), buf, sizeof buf, 0);
  EXPECT_EQ(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0), "piped message\n");
}

}  // namespace
}  // namespace qmail::local
