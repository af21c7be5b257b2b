#include "inject/inject.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "header/header.h"
#include "inject/getopt.h"
#include "inject/sendmail.h"

namespace qmail::inject {
namespace {

Settings base() {
  Settings s;
  s.defaultdomain = "example.com";
  s.defaulthost = "mail.example.com";
  s.plusdomain = "plus.example.com";
  s.idhost = "id.example.com";
  s.mailuser = s.mailruser = "joe";
  s.now = 812090813;  // Tue, 26 Sep 1995 04:46:53
  s.pid = 4242;
  s.recip = Recip::kHeader;
  return s;
}

std::vector<std::string> fields_of(std::string_view text) {
  std::size_t rest = 0;
  auto h = header::parse(text, rest);
  EXPECT_TRUE(h.is_ok());
  return h.is_ok() ? h->fields : std::vector<std::string>{};
}

TEST(Rewriter, QmailHeaderRules) {
  Settings s = base();
  Rewriter rw(s);
  struct Case {
    const char* in;
    const char* want;
  } cases[] = {
      {"djb", "djb@mail.example.com"},
      {"djb@silverton", "djb@silverton.example.com"},
      {"eric@mammoth.cs+", "eric@mammoth.cs.plus.example.com"},
      {"eric@mammoth+", "eric@mammoth.plus.example.com"},
      {"a@b.c", "a@b.c"},
      {"a@b.c.", "a@b.c"},
      {"a@", "a@mail.example.com"},
      {"djb@[128.32.183.163]", "djb@[128.32.183.163]"},
      {"foo@[]", "foo@[]"},
      {"The Almighty.One@heaven.af.mil", "The Almighty.One@heaven.af.mil"},
      {"", ""},
      {"<>", ""},
  };
  for (const auto& c : cases) {
    auto r = rw.envelope(c.in);
    ASSERT_TRUE(r.is_ok()) << c.in;
    EXPECT_EQ(*r, c.want) << c.in;
  }
  EXPECT_FALSE(rw.envelope("a@b c").is_ok());

  // defaulthost without dots gets defaultdomain; ending in '+', plusdomain.
  s.defaulthost = "silverton";
  EXPECT_EQ(*rw.envelope("djb"), "djb@silverton.example.com");
  s.defaulthost = "silverton+";
  EXPECT_EQ(*rw.envelope("djb"), "djb@silverton.plus.example.com");
}

TEST(Prepare, AddsStampsAndFrom) {
  Settings s = base();
  auto p = prepare(s, fields_of("To: fred\nSubject: hi\n\n"));
  ASSERT_TRUE(p.is_ok()) << p.status().message();
  EXPECT_EQ(p->header,
            "Date: Tue, 26 Sep 1995 04:46:53 +0000\n"
            "Message-ID: <19950926044653.4242.qmail@id.example.com>\n"
            "From: joe@mail.example.com\n"
            "To: fred@mail.example.com\n"
            "Subject: hi\n");
  EXPECT_EQ(p->sender, "joe@mail.example.com");
  EXPECT_EQ(p->recipients, (std::vector<std::string>{"fred@mail.example.com"}));
}

TEST(Prepare, FullNameStyles) {
  Settings s = base();
  s.fullname = "Joe \"Q\" Public";
  s.mailhost = "host.example.org";
  auto p = prepare(s, fields_of("To: a@b.c\nDate: x\nMessage-ID: <m@x>\n"));
  ASSERT_TRUE(p.is_ok());
  EXPECT_EQ(p->header,
            "From: \"Joe \\\"Q\\\" Public\" <joe@host.example.org>\n"
            "To: a@b.c\nDate: x\nMessage-ID: <m@x>\n");
  s.name_comment = true;
  s.fullname = "Joe (the) Public";
  p = prepare(s, fields_of("To: a@b.c\nDate: x\nMessage-ID: <m@x>\n"));
  EXPECT_EQ(p->header,
            "From: joe@host.example.org (Joe \\(the\\) Public)\n"
            "To: a@b.c\nDate: x\nMessage-ID: <m@x>\n");
}

TEST(Prepare, DeletesAndRecipients) {
  Settings s = base();
  auto p = prepare(s, fields_of("From: me\nDate: d\nMessage-ID: <i@d>\nTo: a@x.y\nCc: b@x.y\n"
                                "Bcc: c@x.y\nApparently-To: d@x.y\nContent-Length: 12\n"
                                "Return-Path: <rp@x.y>\nSubject: s\n"));
  ASSERT_TRUE(p.is_ok());
  EXPECT_EQ(p->header,
            "From: me@mail.example.com\nDate: d\nMessage-ID: <i@d>\nTo: a@x.y\nCc: b@x.y\n"
            "Apparently-To: d@x.y\nSubject: s\n");
  EXPECT_EQ(p->recipients, (std::vector<std::string>{"a@x.y", "b@x.y", "c@x.y", "d@x.y"}));
  EXPECT_EQ(p->sender, "rp@x.y");
}

TEST(Prepare, NoToOrCc) {
  Settings s = base();
  auto p = prepare(s, fields_of("Bcc: c@x.y\nDate: d\nMessage-ID: <i@d>\nFrom: f@x.y\n"));
  ASSERT_TRUE(p.is_ok());
  EXPECT_EQ(p->header,
            "Cc: recipient list not shown: ;\nDate: d\nMessage-ID: <i@d>\nFrom: f@x.y\n");
  EXPECT_EQ(p->recipients, (std::vector<std::string>{"c@x.y"}));
}

TEST(Prepare, Resent) {
  Settings s = base();
  auto p = prepare(s, fields_of("From: f@x.y\nTo: a@x.y\nResent-To: r@x.y\nResent-Bcc: rb@x.y\n"));
  ASSERT_TRUE(p.is_ok());
  EXPECT_EQ(p->header,
            "Resent-Date: Tue, 26 Sep 1995 04:46:53 +0000\n"
            "Resent-Message-ID: <19950926044653.4242.qmail@id.example.com>\n"
            "Resent-From: joe@mail.example.com\n"
            "From: f@x.y\nTo: a@x.y\nResent-To: r@x.y\n");
  EXPECT_EQ(p->recipients, (std::vector<std::string>{"r@x.y", "rb@x.y"}));
  p = prepare(s, fields_of("Resent-From: f@x.y\nTo: a@x.y\n"));
  EXPECT_NE(p->header.find("Resent-Cc: recipient list not shown: ;\n"), std::string::npos);
  EXPECT_TRUE(p->recipients.empty());
}

TEST(Prepare, RecipientStrategies) {
  Settings s = base();
  s.args = {"arg@x.y"};
  const char* msg = "To: hdr@x.y\nFrom: f@x.y\n";
  s.recip = Recip::kArgs;
  EXPECT_EQ(prepare(s, fields_of(msg))->recipients, (std::vector<std::string>{"arg@x.y"}));
  s.recip = Recip::kHeader;
  EXPECT_EQ(prepare(s, fields_of(msg))->recipients, (std::vector<std::string>{"hdr@x.y"}));
  s.recip = Recip::kBoth;
  EXPECT_EQ(prepare(s, fields_of(msg))->recipients,
            (std::vector<std::string>{"arg@x.y", "hdr@x.y"}));
  s.args = {""};
  EXPECT_FALSE(prepare(s, fields_of(msg)).is_ok());
}

TEST(Prepare, BadAddressFields) {
  Settings s = base();
  // Unparsable To with header recipients: permanent error.
  auto p = prepare(s, fields_of("To: \"broken\nFrom: f@x.y\n"));
  ASSERT_FALSE(p.is_ok());
  EXPECT_TRUE(p.status().is_perm());
  // With recipients from arguments only, it is kept as it is.
  s.recip = Recip::kArgs;
  s.args = {"a@x.y"};
  p = prepare(s, fields_of("To: \"broken\nFrom: f@x.y\n"));
  ASSERT_TRUE(p.is_ok());
  EXPECT_NE(p->header.find("To: \"broken\n"), std::string::npos);
  // An unparsable Return-Path would choose the sender.
  EXPECT_FALSE(prepare(s, fields_of("Return-Path: <a\n")).is_ok());
  s.sender = "set@x.y";
  EXPECT_TRUE(prepare(s, fields_of("Return-Path: <a\n")).is_ok());
}

TEST(Prepare, EnvelopeSender) {
  Settings s = base();
  s.recip = Recip::kArgs;
  s.args = {"a@x.y"};
  EXPECT_EQ(prepare(s, {})->sender, "joe@mail.example.com");
  s.mailrhost = "bounce.example.org";
  s.mailruser = "bounces";
  EXPECT_EQ(prepare(s, {})->sender, "bounces@bounce.example.org");
  s.verp_message = true;
  EXPECT_EQ(prepare(s, {})->sender, "bounces-812090813.4242@bounce.example.org");
  s.verp_message = false;
  s.verp_recipient = true;
  EXPECT_EQ(prepare(s, {})->sender, "bounces-@bounce.example.org-@[]");
  EXPECT_EQ(prepare(s, fields_of("Return-Path: <rp@x.y>\n"))->sender, "rp@x.y-@[]");
  s.verp_recipient = false;
  EXPECT_EQ(prepare(s, fields_of("Return-Path: <>\n"))->sender, "");
  s.ignore_return_path = true;
  EXPECT_EQ(prepare(s, fields_of("Return-Path: <rp@x.y>\n"))->sender, "bounces@bounce.example.org");
  s.sender = "";
  EXPECT_EQ(prepare(s, {})->sender, "");
  s.sender = "who";
  EXPECT_EQ(prepare(s, fields_of("Return-Path: <rp@x.y>\n"))->sender, "who@mail.example.com");
}

TEST(Prepare, DeleteFlags) {
  Settings s = base();
  s.delete_from = true;
  s.delete_message_id = true;
  auto p = prepare(s, fields_of("From: old@x.y\nMessage-ID: <old@x>\nTo: a@x.y\nDate: d\n"));
  ASSERT_TRUE(p.is_ok());
  EXPECT_EQ(p->header,
            "Message-ID: <19950926044653.4242.qmail@id.example.com>\n"
            "From: joe@mail.example.com\nTo: a@x.y\nDate: d\n");
}

TEST(Prepare, MailFollowupTo) {
  Settings s = base();
  s.mft = std::vector<std::string>{"List@lists.example.org"};
  const char* msg =
      "To: list@lists.example.org, \"Some One\" <one@x.y>\nCc: two\nDate: d\n"
      "Message-ID: <i@d>\nFrom: f@x.y\n";
  auto p = prepare(s, fields_of(msg));
  ASSERT_TRUE(p.is_ok());
  EXPECT_EQ(p->header.substr(0, p->header.find("\nTo:") + 1),
            "Mail-Followup-To: list@lists.example.org, one@x.y, two@mail.example.com\n");
  // Not for other lists, nor when the message has one already.
  s.mft = std::vector<std::string>{"other@x.y"};
  EXPECT_EQ(prepare(s, fields_of(msg))->header.find("Mail-Followup-To"), std::string::npos);
  s.mft = std::vector<std::string>{"one@x.y"};
  auto q = prepare(s, fields_of(std::string(msg) + "Mail-Followup-To: x@y.z\n"));
  EXPECT_EQ(q->header.find("Mail-Followup-To: list"), std::string::npos);
}

TEST(Prepare, RewritesOtherAddressFields) {
  Settings s = base();
  auto p = prepare(s, fields_of("Date: d\nMessage-ID: <i@d>\nFrom: A <a>\nTo: b\n"
                                "Reply-To: c@d+\nSender: e\nMail-Reply-To: f\nErrors-To: g\n"
                                "Subject: h@i j\nKeywords: x\nCc:\n"));
  ASSERT_TRUE(p.is_ok());
  EXPECT_EQ(p->header,
            "Date: d\nMessage-ID: <i@d>\nFrom: A <a@mail.example.com>\n"
            "To: b@mail.example.com\nReply-To: c@d.plus.example.com\n"
            "Sender: e@mail.example.com\nMail-Reply-To: f@mail.example.com\n"
            "Errors-To: g@mail.example.com\nSubject: h@i j\nKeywords: x\nCc:\n");
}

TEST(Prepare, PrintAddsReturnPath) {
  Settings s = base();
  s.print = true;
  s.sender = "a b@x.y";
  auto p = prepare(s, fields_of("To: a@x.y\nDate: d\nMessage-ID: <i@d>\nFrom: f@x.y\n"));
  ASSERT_TRUE(p.is_ok());
  EXPECT_EQ(p->header.substr(0, p->header.find('\n') + 1), "Return-Path: <\"a b\"@x.y>\n");
}

TEST(GetOpt, Clusters) {
  const char* argv[] = {"prog", "-an", "-fme", "-f", "you", "--", "-x", nullptr};
  GetOpt o(std::span<char*>(const_cast<char**>(argv), 7), "anf:");
  EXPECT_EQ(o.next(), 'a');
  EXPECT_EQ(o.next(), 'n');
  EXPECT_EQ(o.next(), 'f');
  EXPECT_STREQ(o.arg(), "me");
  EXPECT_EQ(o.next(), 'f');
  EXPECT_STREQ(o.arg(), "you");
  EXPECT_EQ(o.next(), 0);
  EXPECT_EQ(o.index(), 6u);
  const char* bad[] = {"prog", "-z", nullptr};
  GetOpt b(std::span<char*>(const_cast<char**>(bad), 2), "a");
  EXPECT_EQ(b.next(), '?');
  const char* missing[] = {"prog", "-f", nullptr};
  GetOpt m(std::span<char*>(const_cast<char**>(missing), 2), "f:");
  EXPECT_EQ(m.next(), '?');
  const char* operand[] = {"prog", "x", "-a", nullptr};
  GetOpt op(std::span<char*>(const_cast<char**>(operand), 3), "a");
  EXPECT_EQ(op.next(), 0);
  EXPECT_EQ(op.index(), 1u);
}

SendmailPlan sm(std::vector<const char*> argv, bool proto = false) {
  argv.push_back(nullptr);
  return plan_sendmail(std::span<char*>(const_cast<char**>(argv.data()), argv.size() - 1), proto);
}

TEST(Sendmail, Plans) {
  using A = SendmailPlan::Action;
  auto p = sm({"sendmail", "-oi", "-odb", "-i", "-v", "a@b"});
  EXPECT_EQ(p.action, A::kInject);
  EXPECT_EQ(p.args, (std::vector<std::string>{"-a", "--", "a@b"}));
  p = sm({"/usr/sbin/sendmail", "-t"});
  EXPECT_EQ(p.args, (std::vector<std::string>{"-H", "--"}));
  p = sm({"sendmail", "-f", "bob@example.org", "-F", "Bob B", "-t", "x"});
  EXPECT_EQ(p.args, (std::vector<std::string>{"-H", "-f", "bob@example.org", "--", "x"}));
  EXPECT_EQ(p.set, (std::vector<std::pair<std::string, std::string>>{
                       {"QMAILHOST", "example.org"}, {"QMAILUSER", "bob"}, {"MAILNAME", "Bob B"}}));
  EXPECT_EQ(p.unset.size(), 5u);
  p = sm({"sendmail", "-f", "<>", "x"});
  EXPECT_EQ(p.args, (std::vector<std::string>{"-a", "-f", "<>", "--", "x"}));
  EXPECT_TRUE(p.set.empty());
  EXPECT_TRUE(p.unset.empty());
  p = sm({"sendmail", "-fbob"});
  EXPECT_EQ(p.set, (std::vector<std::pair<std::string, std::string>>{{"QMAILUSER", "bob"}}));
  p = sm({"sendmail", "-Bbitmime", "-e", "q", "-p", "x", "-x", "-m", "-Eignored", "-bm", "r"});
  EXPECT_EQ(p.action, A::kInject);
  EXPECT_EQ(p.args, (std::vector<std::string>{"-a", "--", "r"}));
  EXPECT_EQ(sm({"sendmail", "-bp"}).action, A::kQread);
  EXPECT_EQ(sm({"mailq"}).action, A::kQread);
  EXPECT_EQ(sm({"newaliases"}).action, A::kNewaliases);
  auto bs = sm({"sendmail", "-bs"});
  EXPECT_EQ(bs.action, A::kSmtpd);
  EXPECT_FALSE(bs.set.empty());
  EXPECT_TRUE(sm({"sendmail", "-bs"}, true).set.empty());
  EXPECT_EQ(sm({"sendmail", "-bz"}).action, A::kUsage);
  EXPECT_EQ(sm({"sendmail", "-N", "x"}).action, A::kUsage);
  EXPECT_EQ(sm({"sendmail", "-f"}).action, A::kUsage);
}

}  // namespace
}  // namespace qmail::inject
