#include "header/header.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "header/date.h"
#include "io/fd.h"

namespace qmail::header {
namespace {

TEST(Header, FieldName) {
  struct Case {
    const char* line;
    const char* name;
  } cases[] = {
      {"Subject: hi\n", "Subject"},  {"Subject : hi\n", "Subject"},  // blanks before the colon
      {"Subject\t:hi\n", "Subject"}, {"X-Weird!#$: v\n", "X-Weird!#$"},
      {": empty name\n", ""},        {"no colon here\n", ""},
      {"two words: x\n", ""},        {" Subject: x\n", ""},
      {"Subj\x01ct: x\n", ""},       {"Subj\xe9: x\n", ""},  // qmail-inject: no unprintable names
  };
  for (const auto& c : cases) EXPECT_EQ(field_name(c.line), c.name) << c.line;
  EXPECT_EQ(field_value("To: a@b\n"), " a@b\n");
  EXPECT_TRUE(is_named("TO: x\n", "to"));
  EXPECT_TRUE(is_named("rEsEnT-tO : x\n", "Resent-To"));
  EXPECT_FALSE(is_named("To-x: x\n", "to"));
}

TEST(Header, Unfold) {
  EXPECT_EQ(unfold(" a,\n b,\r\n\tc\n"), " a, b,\tc");
  EXPECT_EQ(unfold("x\r\n"), "x");
  EXPECT_EQ(unfold("x\ny"), "x\ny");  // not folding: kept
}

struct Split {
  std::vector<std::string> fields;
  End end;
  std::string body_line;
  std::string rest;
};

Split split(std::string_view text, std::size_t limit = kMaxHeader) {
  std::size_t rest = 0;
  auto h = parse(text, rest, limit);
  EXPECT_TRUE(h.is_ok()) << h.status().message();
  if (!h.is_ok()) return {};
  return {h->fields, h->end, h->body_line, std::string(text.substr(rest))};
}

TEST(Header, Parse) {
  auto s = split("To: a\n  b\nSubject: x\n\nbody\n");
  EXPECT_EQ(s.fields, (std::vector<std::string>{"To: a\n  b\n", "Subject: x\n"}));
  EXPECT_EQ(s.end, End::kBlank);
  EXPECT_EQ(s.rest, "body\n");

  s = split("Subject: x\r\n\r\nbody\r\n");
  EXPECT_EQ(s.end, End::kBlank);
  EXPECT_EQ(s.rest, "body\r\n");

  // A line that is not a field starts the body.
  s = split("Subject: x\nthis is body\nmore\n");
  EXPECT_EQ(s.fields, (std::vector<std::string>{"Subject: x\n"}));
  EXPECT_EQ(s.end, End::kBodyLine);
  EXPECT_EQ(s.body_line, "this is body\n");
  EXPECT_EQ(s.rest, "more\n");

  // No body at all; the last line gets its newline.
  s = split("Subject: x\nTo: y");
  EXPECT_EQ(s.fields, (std::vector<std::string>{"Subject: x\n", "To: y\n"}));
  EXPECT_EQ(s.end, End::kEof);

  // An mbox "From " line becomes a field.
  s = split("From joe Sun Nov 22 00:00:00 2026\nSubject: x\n\n");
  EXPECT_EQ(s.fields[0], "MBOX-Line: From joe Sun Nov 22 00:00:00 2026\n");

  // A continuation at the very start is body.
  s = split(" leading space\n");
  EXPECT_EQ(s.end, End::kBodyLine);
  EXPECT_TRUE(s.fields.empty());

  // Empty input.
  s = split("");
  EXPECT_EQ(s.end, End::kEof);
  EXPECT_TRUE(s.fields.empty());

  // NUL and 8-bit in contents pass.
  std::string nul("X: a\0b\xff\n\n", 9);
  s = split(nul);
  EXPECT_EQ(s.fields[0], std::string("X: a\0b\xff\n", 8));
}

TEST(Header, LongLinesAndLimit) {
  std::string big = "X-Big: " + std::string(3 << 20, 'x') + "\n\nbody";
  auto s = split(big);
  ASSERT_EQ(s.fields.size(), 1u);
  EXPECT_EQ(s.fields[0].size(), (3u << 20) + 8);
  std::size_t rest = 0;
  auto r = parse(big, rest, 1 << 20);
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(r.status().is_perm());
}

TEST(Header, ReadFromDescriptor) {
  char path[] = "/tmp/header_test.XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  Fd owned(fd);
  ::unlink(path);
  std::string msg = "To: a@b\nSubject: " + std::string(200000, 's') + "\n\nbody\nlast";
  ASSERT_EQ(::write(fd, msg.data(), msg.size()), static_cast<ssize_t>(msg.size()));
  ::lseek(fd, 0, SEEK_SET);
  io::Reader in(fd, 4096);
  auto h = read(in);
  ASSERT_TRUE(h.is_ok()) << h.status().message();
  EXPECT_EQ(h->fields.size(), 2u);
  EXPECT_EQ(h->end, End::kBlank);
  auto rest = in.read_some(1000);
  ASSERT_TRUE(rest.is_ok());
  EXPECT_EQ(*rest, "body\nlast");

  // Header without newline at EOF.
  ASSERT_EQ(::ftruncate(fd, 0), 0);
  ::lseek(fd, 0, SEEK_SET);
  ASSERT_EQ(::write(fd, "To: a@b", 7), 7);
  ::lseek(fd, 0, SEEK_SET);
  io::Reader in2(fd);
  h = read(in2);
  ASSERT_TRUE(h.is_ok());
  EXPECT_EQ(h->fields, (std::vector<std::string>{"To: a@b\n"}));
  EXPECT_EQ(h->end, End::kEof);

  // Past the limit.
  ::lseek(fd, 0, SEEK_SET);
  std::string huge = "X: " + std::string(5000, 'x') + "\n\n";
  ASSERT_EQ(::write(fd, huge.data(), huge.size()), static_cast<ssize_t>(huge.size()));
  ::lseek(fd, 0, SEEK_SET);
  io::Reader in3(fd, 1024);
  h = read(in3, 4096);
  ASSERT_FALSE(h.is_ok());
  EXPECT_TRUE(h.status().is_perm());
}

TEST(Date, Format) {
  struct Case {
    std::time_t t;
    const char* want;
  } cases[] = {
      {0, "Thu, 1 Jan 1970 00:00:00 +0000"},
      {812090813, "Tue, 26 Sep 1995 04:46:53 +0000"},
      {951782400, "Tue, 29 Feb 2000 00:00:00 +0000"},
      {1798761600 - 1, "Thu, 31 Dec 2026 23:59:59 +0000"},
  };
  for (const auto& c : cases) EXPECT_EQ(format_date(c.t), c.want) << c.t;
}

TEST(Date, LocalUsesZoneOffset) {
  const char* old = std::getenv("TZ");
  std::string saved = old ? old : "";
  ::setenv("TZ", "EST5EDT", 1);
  ::tzset();
  EXPECT_EQ(format_date(0, true), "Wed, 31 Dec 1969 19:00:00 -0500");
  ::setenv("TZ", "IST-5:30", 1);
  ::tzset();
  EXPECT_EQ(format_date(0, true), "Thu, 1 Jan 1970 05:30:00 +0530");
  if (old)
    ::setenv("TZ", saved.c_str(), 1);
  else
    ::unsetenv("TZ");
  ::tzset();
}

}  // namespace
}  // namespace qmail::header
