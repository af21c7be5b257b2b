#include "send/bounce.h"

#include <gtest/gtest.h>

namespace qmail::send {
namespace {

BounceConfig config() {
  BounceConfig c;
  c.me = "example.test";
  c.bouncefrom = "MAILER-DAEMON";
  c.bouncehost = "example.test";
  c.doublebounceto = "postmaster";
  c.doublebouncehost = "example.test";
  return c;
}

TEST(Bounce, Paragraph) {
  EXPECT_EQ(bounce_paragraph("a@b", "No such user. (#5.1.1)\n"),
            "<a@b>:\nNo such user. (#5.1.1)\n\n");
  EXPECT_EQ(bounce_paragraph("a@b", "no newline"), "<a@b>:\nno newline\n\n");
  EXPECT_EQ(bounce_paragraph("a@b", std::string("x\0y", 3)), "<a@b>:\nxy\n\n");
  // QSBMF: an empty line inside the report becomes "/", and empty lines at
  // its end go: the paragraph ends in exactly one blank line.
  EXPECT_EQ(bounce_paragraph("a@b", "line1\n\nline3\n\n"), "<a@b>:\nline1\n/line3\n\n");
  EXPECT_EQ(bounce_paragraph("a@b", "x\n\n\n\n"), "<a@b>:\nx\n\n");
  EXPECT_EQ(bounce_paragraph("a@b", ""), "<a@b>:\n\n");
}

TEST(Bounce, SingleBounceIsQsbmf) {
  BouncePlan p = plan_bounce(config(), "alice@remote.test", "<bob@example.test>:\nSorry.\n\n", 0);
  EXPECT_FALSE(p.discard);
  EXPECT_EQ(p.envelope_sender, "");
  EXPECT_EQ(p.recipient, "alice@remote.test");
  EXPECT_EQ(p.head,
            "Date: 1 Jan 1970 00:00:00 -0000\n"
            "From: MAILER-DAEMON@example.test\n"
            "To: alice@remote.test\n"
            "Subject: failure notice\n"
            "\n"
            "Hi. This is the qmail-send program at example.test.\n"
            "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
            "This is a permanent error; I've given up. Sorry it didn't work out.\n"
            "\n"
            "<bob@example.test>:\nSorry.\n\n"
            "--- Below this line is a copy of the message.\n\n"
            "Return-Path: <alice@remote.test>\n");
}

TEST(Bounce, NamesBouncehostAndQuotes) {
  BounceConfig c = config();
  c.bouncehost = "bh.test";
  c.bouncefrom = "mailer daemon";
  BouncePlan p = plan_bounce(c, "a b@remote.test", "<x@y>:\nNo.\n\n", 0);
  EXPECT_NE(p.head.find("From: \"mailer daemon\"@bh.test\n"), std::string::npos);
  EXPECT_NE(p.head.find("To: \"a b\"@remote.test\n"), std::string::npos);
  EXPECT_NE(p.head.find("Hi. This is the qmail-send program at bh.test.\n"), std::string::npos);
  EXPECT_NE(p.head.find("Return-Path: <\"a b\"@remote.test>\n"), std::string::npos);
}

TEST(Bounce, VerpSenderBouncesToItsOwner) {
  BouncePlan p = plan_bounce(config(), "list-@example.test-@[]", "<x@y>:\nNo.\n\n", 0);
  EXPECT_EQ(p.recipient, "list-@example.test");
  EXPECT_NE(p.head.find("Return-Path: <list-@example.test>\n"), std::string::npos);
}

TEST(Bounce, EmptyLinesInAReport) {
  EXPECT_EQ(bounce_paragraph("a@b", "one\n\ntwo\n"), "<a@b>:\none\n/two\n\n");
  EXPECT_EQ(bounce_paragraph("a@b", "\none\n\n\ntwo"), "<a@b>:\n/one\n//two\n\n");
  EXPECT_EQ(bounce_paragraph("a\nb@c", ""), "<a_b@c>:\n\n");
}

TEST(Bounce, DoubleBounceGoesToPostmaster) {
  BouncePlan p = plan_bounce(config(), "", "<x@y>:\nNo.\n\n", 0);
  EXPECT_FALSE(p.discard);
  EXPECT_EQ(p.envelope_sender, "#@[]");
  EXPECT_EQ(p.recipient, "postmaster@example.test");
  EXPECT_NE(p.head.find("--- Below this line is the original bounce.\n\nReturn-Path: <>\n"),
            std::string::npos);
}

TEST(Bounce, TripleBounceIsDiscarded) {
  EXPECT_TRUE(plan_bounce(config(), "#@[]", "<x@y>:\nNo.\n\n", 0).discard);
}

TEST(Bounce, Date) { EXPECT_EQ(rfc5322_date(1795000000), "18 Nov 2026 11:06:40 -0000"); }

}  // namespace
}  // namespace qmail::send
