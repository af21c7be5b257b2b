#include "smtp/command.h"

#include <gtest/gtest.h>

namespace qmail::smtp {
namespace {

TEST(Command, Verbs) {
  struct Case {
    const char* line;
    Verb verb;
    const char* arg;
    bool bad;
  } cases[] = {
      {"HELO x.test", Verb::kHelo, "x.test", false},
      {"ehlo x", Verb::kEhlo, "x", false},
      {"MAIL FROM:<a@b>", Verb::kMail, "<a@b>", false},
      {"mail from: <a@b> SIZE=1", Verb::kMail, " <a@b> SIZE=1", false},
      {"MAIL <a@b>", Verb::kMail, "", true},
      {"RCPT TO:<a@b>", Verb::kRcpt, "<a@b>", false},
      {"RCPT FROM:<a@b>", Verb::kRcpt, "", true},
      {"DATA", Verb::kData, "", false},
      {"rset", Verb::kRset, "", false},
      {"NOOP hi", Verb::kNoop, "hi", false},
      {"VRFY u", Verb::kVrfy, "u", false},
      {"HELP", Verb::kHelp, "", false},
      {"QUIT", Verb::kQuit, "", false},
      {"STARTTLS", Verb::kStartTls, "", false},
      {"", Verb::kEmpty, "", false},
      {"BDAT 10", Verb::kUnknown, "10", false},
      {"DATAX", Verb::kUnknown, "", false},
      {"HELO\tx", Verb::kUnknown, "", false},
  };
  for (const auto& c : cases) {
    Command got = parse_command(c.line);
    EXPECT_EQ(got.verb, c.verb) << c.line;
    EXPECT_EQ(got.bad_syntax, c.bad) << c.line;
    if (!c.bad) {
      EXPECT_EQ(got.arg, c.arg) << c.line;
    }
  }
}

TEST(Command, MailParams) {
  auto p = parse_mail_params(" SIZE=123 BODY=8bitmime SMTPUTF8");
  ASSERT_TRUE(p.is_ok());
  EXPECT_EQ(*p->size, 123u);
  EXPECT_TRUE(p->eight_bit_mime);
  EXPECT_TRUE(p->smtputf8);
  EXPECT_TRUE(parse_mail_params("").is_ok());
  EXPECT_TRUE(parse_mail_params("  body=7BIT ").is_ok());
  EXPECT_EQ(*parse_mail_params("SIZE=99999999999999999999")->size, UINT64_MAX);
  const char* bad[] = {"SIZE",
                       "SIZE=",
                       "SIZE=-1",
                       "SIZE=1x",
                       "SIZE=1 SIZE=2",
                       "BODY=BINARYMIME",
                       "BODY",
                       "SMTPUTF8=yes",
                       "FOO",
                       "AUTH=<>",
                       "SIZE=123456789012345678901"};
  for (const char* b : bad) EXPECT_FALSE(parse_mail_params(b).is_ok()) << b;
}

TEST(Command, MailParamsUnknownVersusMalformed) {
  // RFC 5321 4.2.2: 555 for what we do not implement, 501 for bad syntax.
  for (const char* b : {"FOO", "BODY=BINARYMIME", "RET=HDRS", "SIZE=1 ENVID=x"}) {
    bool unknown = false;
    EXPECT_FALSE(parse_mail_params(b, &unknown).is_ok()) << b;
    EXPECT_TRUE(unknown) << b;
  }
  for (const char* b : {"SIZE", "SIZE=x", "SIZE=1 SIZE=2", "BODY", "SMTPUTF8=yes"}) {
    bool unknown = false;
    EXPECT_FALSE(parse_mail_params(b, &unknown).is_ok()) << b;
    EXPECT_FALSE(unknown) << b;
  }
}

TEST(Command, RcptParams) {
  EXPECT_TRUE(check_rcpt_params("").is_ok());
  EXPECT_TRUE(check_rcpt_params("   ").is_ok());
  EXPECT_FALSE(check_rcpt_params(" NOTIFY=NEVER").is_ok());
}

}  // namespace
}  // namespace qmail::smtp
