#include "local/dotqmail.h"

#include <gtest/gtest.h>

namespace qmail::local {
namespace {

struct ParseCase {
  const char* text;
  std::vector<std::pair<Kind, std::string>> want;
};

TEST(DotQmailTest, ParsesEachKind) {
  const ParseCase cases[] = {
      {"", {}},
      {"# only a comment\n", {}},
      {"./Mailbox\n", {{Kind::kMbox, "./Mailbox"}}},
      {"/var/mail/joe", {{Kind::kMbox, "/var/mail/joe"}}},
      {"./Maildir/\n", {{Kind::kMaildir, "./Maildir/"}}},
      {"/home/joe/Maildir/ \t\n", {{Kind::kMaildir, "/home/joe/Maildir/"}}},
      {"|preline procmail\n", {{Kind::kProgram, "preline procmail"}}},
      {"| spaced cmd  \n", {{Kind::kProgram, " spaced cmd"}}},
      {"&me@new.job.com\n", {{Kind::kForward, "me@new.job.com"}}},
      {"me@new.job.com\n", {{Kind::kForward, "me@new.job.com"}}},
      {"9lives@x.y\n", {{Kind::kForward, "9lives@x.y"}}},
      {"#c\n./a\n\n&b@c.d\n\n|e\n./f/\n",
       {{Kind::kMbox, "./a"},
        {Kind::kForward, "b@c.d"},
        {Kind::kProgram, "e"},
        {Kind::kMaildir, "./f/"}}},
  };
  for (const ParseCase& c : cases) {
    auto got = parse(c.text);
    ASSERT_TRUE(got.is_ok()) << c.text << ": " << got.status().message();
    ASSERT_EQ(got->size(), c.want.size()) << c.text;
    for (std::size_t i = 0; i < c.want.size(); ++i) {
      EXPECT_EQ((*got)[i].kind, c.want[i].first) << c.text;
      EXPECT_EQ((*got)[i].text, c.want[i].second) << c.text;
    }
  }
}

TEST(DotQmailTest, RejectsBadFilesAsTemporary) {
  for (std::string_view text : {std::string_view("\n./Mailbox\n"), std::string_view("  \n"),
                                std::string_view("&\n"), std::string_view("./a\0b\n", 6)}) {
    auto got = parse(text);
    ASSERT_FALSE(got.is_ok());
    EXPECT_TRUE(got.status().is_temp()) << got.status().message();
  }
  EXPECT_NE(parse("\nx").status().message().find("first line"), std::string::npos);
}

TEST(DotQmailTest, BoundsLinesAndSize) {
  std::string many;
  for (std::size_t i = 0; i <= kMaxInstructions; ++i) many += "#\n";
  EXPECT_FALSE(parse(many).is_ok());
  EXPECT_FALSE(parse(std::string(kMaxDotQmail + 1, '#')).is_ok());
}

TEST(DotQmailTest, SafeExtFoldsCaseAndDots) {
  EXPECT_EQ(safe_ext("Foo.Bar"), "foo:bar");
  EXPECT_EQ(safe_ext("../x"), "::/x");
}

TEST(DotQmailTest, CandidatesForExtension) {
  auto c = candidates("-", "Foo-Bar.x");
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].name, ".qmail-foo-bar:x");
  EXPECT_FALSE(c[0].is_default);
  EXPECT_EQ(c[1].name, ".qmail-foo-default");
  EXPECT_EQ(c[1].default_part, "Bar.x");
  EXPECT_EQ(c[2].name, ".qmail-default");
  EXPECT_EQ(c[2].default_part, "Foo-Bar.x");

  auto trailing = candidates("-", "list-");
  ASSERT_EQ(trailing.size(), 3u);
  EXPECT_EQ(trailing[1].name, ".qmail-list-default");
  EXPECT_EQ(trailing[1].default_part, "");

  auto plain = candidates("", "");
  ASSERT_EQ(plain.size(), 1u);
  EXPECT_EQ(plain[0].name, ".qmail");
}

TEST(DotQmailTest, ExtAndHostParts) {
  std::string_view e = "a-b-c-d";
  EXPECT_EQ(after_first_dash(e), "b-c-d");
  EXPECT_EQ(after_first_dash(after_first_dash(e)), "c-d");
  EXPECT_EQ(after_first_dash("nodash"), "");
  EXPECT_EQ(before_last_dot("mail.example.co.uk"), "mail.example.co");
  EXPECT_EQ(before_last_dot("localhost"), "localhost");
}

}  // namespace
}  // namespace qmail::local
