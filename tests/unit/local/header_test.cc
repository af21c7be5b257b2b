#include "local/header.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "local/notify.h"

namespace qmail::local {
namespace {

TEST(HeaderTest, ParsesAndUnfolds) {
  auto h = parse_header(
      "Subject: hello\n world\nX-Empty:\nbad line\n\tcontinues nothing\nFrom:  a@b \n\nBody: no\n");
  // qmail-header(5): a line that does not start a field ends the header.
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0].name, "Subject");
  EXPECT_EQ(h[0].value, "hello world");
  EXPECT_EQ(h[1].name, "X-Empty");
  EXPECT_EQ(h[1].value, "");
  auto g = parse_header("From:  a@b \nTo: c@d\n\nBody: no\n");
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[0].value, "a@b");
  EXPECT_EQ(g[1].name, "To");
}

TEST(HeaderTest, BoundsFieldCount) {
  std::string many;
  for (std::size_t i = 0; i < kMaxHeaderFields + 10; ++i) many += "X: y\n";
  EXPECT_EQ(parse_header(many).size(), kMaxHeaderFields);
}

TEST(HeaderTest, ParseAddresses) {
  struct Case {
    const char* value;
    std::vector<std::string> want;
  } cases[] = {
      {"a@b.c", {"a@b.c"}},
      {"Joe <joe@x.org>, other@y.org", {"joe@x.org", "other@y.org"}},
      {"\"Doe, John\" <jd@x.org>", {"jd@x.org"}},
      {"jd@x.org (John, Doe)", {"jd@x.org"}},
      {"list: a@b.c, d@e.f;", {"a@b.c", "d@e.f"}},
      {"undisclosed-recipients:;", {}},
      {"<@relay.x,@r2.y:joe@x.org>", {"joe@x.org"}},
      {"", {}},
      {",,,", {}},
  };
  for (const Case& c : cases) EXPECT_EQ(parse_addresses(c.value), c.want) << c.value;
}

TEST(NotifyTest, BiffNoticeIsHarmless) {
  std::vector<HeaderField> h = {{"Subject", "hi\x1b[2Jthere"}, {"From", "x@y"}};
  std::string n = biff_notice("evil\r\n\x07@x", h);
  EXPECT_EQ(n, "\a\r\nNew mail from evil???@x\r\nFrom: x@y\r\nSubject: hi?[2Jthere\r\n");
  std::vector<HeaderField> longer = {{"Subject", std::string(500, 'a')}};
  std::string m = biff_notice("", longer);
  EXPECT_NE(m.find("MAILER-DAEMON"), std::string::npos);
  EXPECT_LT(m.size(), 200u);
}

TEST(NotifyTest, NotifyTtyOnlyWhenBiffIsOn) {
  int master = ::posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0) GTEST_SKIP() << "no pseudo-terminals";
  ASSERT_EQ(::grantpt(master), 0);
  ASSERT_EQ(::unlockpt(master), 0);
  std::string slave = ::ptsname(master);
  // Keep the slave open so writes to it do not fail with EIO.
  int keep = ::open(slave.c_str(), O_RDWR | O_NOCTTY);
  ASSERT_GE(keep, 0);
  ASSERT_EQ(::chmod(slave.c_str(), 0620), 0);
  EXPECT_FALSE(notify_tty(slave, ::getuid(), "x"));  // biff n
  ASSERT_EQ(::chmod(slave.c_str(), 0720), 0);
  EXPECT_FALSE(notify_tty(slave, ::getuid() + 1, "x"));    // not the user's
  EXPECT_TRUE(notify_tty(slave, ::getuid(), "new mail"));  // biff y
  char buf[64];
  ssize_t n = ::read(master, buf, sizeof buf);
  EXPECT_GT(n, 0);
  EXPECT_NE(std::string(buf, n > 0 ? n : 0).find("new mail"), std::string::npos);
  EXPECT_FALSE(notify_tty("/dev/null", ::getuid(), "x"));  // not the user's, not biffed
  EXPECT_FALSE(notify_tty("/nonexistent/tty", ::getuid(), "x"));
  ::close(keep);
  ::close(master);
}

TEST(NotifyTest, Receipts) {
  auto h = parse_header("Notice-Requested-Upon-Delivery-To: A <Joe@X.org>\nSubject: s\n\n");
  EXPECT_TRUE(receipt_requested(h, "joe@x.org"));
  EXPECT_FALSE(receipt_requested(h, "fred@x.org"));
  EXPECT_TRUE(receipt_allowed("a@b.c", h));
  EXPECT_FALSE(receipt_allowed("", h));
  EXPECT_FALSE(receipt_allowed("#@[]", h));
  EXPECT_FALSE(receipt_allowed("nobody", h));
  EXPECT_FALSE(receipt_allowed("a@b.c", parse_header("Precedence: Bulk\n\n")));
  std::string m = receipt_message("joe@x.org", "a@b.c\nBcc: evil@x", h, 0);
  EXPECT_NE(m.find("To: <a@b.c?Bcc: evil@x>\n"), std::string::npos);
  EXPECT_NE(m.find("Date: Thu, 01 Jan 1970 00:00:00 +0000\n"), std::string::npos);
  EXPECT_NE(m.find("\n\n"), std::string::npos);
}

}  // namespace
}  // namespace qmail::local
