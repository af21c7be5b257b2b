#include "spawn/protocol.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include "spawn/local.h"

namespace qmail::spawn {
namespace {

using namespace std::string_literals;

int exited(int code) { return code << 8; }  // a waitpid status
int signalled(int sig) { return sig; }

TEST(Protocol, CommandRoundTripInPieces) {
  std::string wire = encode(Command{7, 12345, "a@b", "c@d"}) + encode(Command{8, 1, "", "e@f"});
  Decoder d;
  std::vector<Command> got;
  for (char ch : wire) {
    d.feed(std::string_view(&ch, 1));
    auto c = d.next_command();
    ASSERT_TRUE(c.is_ok());
    if (*c) got.push_back(**c);
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].delivery, 7u);
  EXPECT_EQ(got[0].id, 12345u);
  EXPECT_EQ(got[0].sender, "a@b");
  EXPECT_EQ(got[0].recipient, "c@d");
  EXPECT_EQ(got[1].sender, "");
}

TEST(Protocol, ReplyRoundTrip) {
  Decoder d;
  d.feed(encode(Reply{3, 'K', "did 0+0+1\n"}));
  auto r = d.next_reply();
  ASSERT_TRUE(r.is_ok() && *r);
  EXPECT_EQ((*r)->delivery, 3u);
  EXPECT_EQ((*r)->result, 'K');
  EXPECT_EQ((*r)->text, "did 0+0+1\n");
}

TEST(Protocol, MalformedIsAnError) {
  Decoder d;
  d.feed("x\0Kok\0"s);
  EXPECT_FALSE(d.next_reply().is_ok());
  Decoder e;
  e.feed("1\0Qok\0"s);
  EXPECT_FALSE(e.next_reply().is_ok());
  Decoder f;
  f.feed(
      "01\0"
      "2\0a\0b\0"s);
  EXPECT_FALSE(f.next_command().is_ok());
  Decoder g;
  g.feed(std::string(5 * kMaxField, 'a'));
  EXPECT_FALSE(g.next_command().is_ok());
}

TEST(Protocol, LocalExitCodes) {
  EXPECT_EQ(local_result(exited(0), "did 0+0+1\n").result, 'K');
  for (int code : {100, 64, 65, 70, 76, 77, 78, 112})
    EXPECT_EQ(local_result(exited(code), "no\n").result, 'D') << code;
  for (int code : {111, 1, 2, 99, 75})
    EXPECT_EQ(local_result(exited(code), "later\n").result, 'Z') << code;
  Reply r = local_result(signalled(SIGKILL), "");
  EXPECT_EQ(r.result, 'Z');
  EXPECT_EQ(r.text, "qmail-local crashed.\n");
}

TEST(Protocol, ALocalReportTooLongIsCutWithANote) {
  std::string exact(kMaxReport, 'x');
  EXPECT_EQ(local_result(exited(100), exact).text, exact);
  Reply r = local_result(exited(100), std::string(kMaxReport + 1, 'x'));
  EXPECT_EQ(r.result, 'D');
  EXPECT_EQ(r.text.size(), kMaxReport);
  EXPECT_EQ(r.text.substr(r.text.size() - 31), "\nError report too long, sorry.\n");
  EXPECT_EQ(r.text.substr(0, 10), "xxxxxxxxxx");
}

TEST(Protocol, RemoteReports) {
  struct Case {
    std::string out;
    char want;
    const char* text;
  } cases[] = {
      {"r\0Kh.test accepted message.\n\0"s, 'K', "h.test accepted message.\n"},
      {"rok\n\0Ztimeout\n\0"s, 'Z', "ok\ntimeout\n"},
      {"hno such user\n\0DGiving up\n\0"s, 'D', "no such user\nGiving up\n"},
      {"sbusy\n\0Zbusy\n\0"s, 'Z', "busy\nbusy\n"},
      {"DConnected but refused.\n\0"s, 'D', "Connected but refused.\n"},
      {"ZNo host.\n\0"s, 'Z', "No host.\n"},
      {"r\0"s, 'Z', ""},
      {""s, 'Z', "qmail-remote produced no report. (#4.3.0)\n"},
      {"Kunterminated"s, 'Z', "qmail-remote produced no report. (#4.3.0)\n"},
  };
  for (const auto& c : cases) {
    Reply r = remote_result(exited(0), c.out);
    EXPECT_EQ(r.result, c.want) << c.out;
    EXPECT_EQ(r.text, c.text) << c.out;
  }
  EXPECT_EQ(remote_result(signalled(SIGSEGV), "").result, 'Z');
}

TEST(Protocol, LogText) {
  EXPECT_EQ(log_text("did 0+0+1\n"), "did_0+0+1/");
  EXPECT_EQ(log_text("a\tb\x01\n\nc"), "a_b_//c");
  // qmail-send's logsafe: '%' and bytes past 126 too.
  EXPECT_EQ(log_text("100% sure \xc3\xa9\x7f"), "100__sure____");
}

TEST(Local, ParseGetpw) {
  auto e = parse_getpw(
      "alias\0"
      "7\0"
      "8\0/var/qmail/alias\0-\0joe\0"s);
  ASSERT_TRUE(e.is_ok());
  EXPECT_EQ(e->user, "alias");
  EXPECT_EQ(e->uid, 7u);
  EXPECT_EQ(e->gid, 8u);
  EXPECT_EQ(e->homedir, "/var/qmail/alias");
  EXPECT_EQ(e->dash, "-");
  EXPECT_EQ(e->ext, "joe");
  EXPECT_FALSE(parse_getpw("a\0"
                           "1\0"
                           "2\0/h\0\0"s)
                   .is_ok());
  EXPECT_FALSE(parse_getpw("a\0x\0"
                           "2\0/h\0\0\0"s)
                   .is_ok());
  EXPECT_FALSE(parse_getpw("a\0"
                           "1\0"
                           "2\0relative\0\0\0"s)
                   .is_ok());
  EXPECT_FALSE(parse_getpw("a\0"
                           "1\0"
                           "2\0/h\0\0\0extra\0"s)
                   .is_ok());
}

TEST(Local, SplitAddress) {
  std::string l, d;
  split_address("a@b@c.test", &l, &d);
  EXPECT_EQ(l, "a@b");
  EXPECT_EQ(d, "c.test");
  split_address("nodomain", &l, &d);
  EXPECT_EQ(l, "nodomain");
  EXPECT_EQ(d, "");
}

}  // namespace
}  // namespace qmail::spawn
