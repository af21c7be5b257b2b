#include "addr/addr.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace qmail::addr {
namespace {

// Every address of a list in envelope form, group members flattened.
std::vector<std::string> addresses(AddressList list) {
  std::vector<std::string> out;
  for_each_mailbox(list, [&](Mailbox& m) {
    if (m.is_address()) out.push_back(m.address());
  });
  return out;
}

TEST(Addr, Split) {
  struct Case {
    const char* in;
    const char* local;
    const char* domain;
    bool has_at;
  } cases[] = {
      {"God@heaven.af.mil", "God", "heaven.af.mil", true},
      {"@heaven.af.mil", "", "heaven.af.mil", true},
      {"@at@@heaven.af.mil", "@at@", "heaven.af.mil", true},  // addresses(5)
      {"nohost", "nohost", "", false},
      {"", "", "", false},
      {"a@", "a", "", true},
  };
  for (const auto& c : cases) {
    Split s = split(c.in);
    EXPECT_EQ(s.local, c.local) << c.in;
    EXPECT_EQ(s.domain, c.domain) << c.in;
    EXPECT_EQ(s.has_at, c.has_at) << c.in;
  }
}

TEST(Addr, QuoteLocal) {
  struct Case {
    const char* in;
    const char* want;
  } cases[] = {
      {"God", "God"},
      {"first.last", "first.last"},
      {"a+b-c=d", "a+b-c=d"},
      {"The Almighty.One", "\"The Almighty.One\""},
      {"a\"quote", "\"a\\\"quote\""},
      {"back\\slash", "\"back\\\\slash\""},
      {"", "\"\""},
      {".lead", "\".lead\""},
      {"trail.", "\"trail.\""},
      {"two..dots", "\"two..dots\""},
      {"at@sign", "\"at@sign\""},
      {"\xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9"},  // 8-bit is atext (RFC 6532)
      {"tab\there", "\"tab\there\""},
  };
  for (const auto& c : cases) EXPECT_EQ(quote_local(c.in), c.want) << c.in;
  EXPECT_EQ(quote("The Almighty.One@heaven.af.mil"), "\"The Almighty.One\"@heaven.af.mil");
  EXPECT_EQ(quote("@at@@host"), "\"@at@\"@host");
  EXPECT_EQ(quote(""), "");
  EXPECT_EQ(quote("fred"), "fred");
}

// Parsing then formatting: the canonical header form, and the envelope
// addresses.
TEST(Addr, ParseList) {
  struct Case {
    const char* in;
    const char* formatted;
    std::vector<std::string> addrs;
  } cases[] = {
      {"a@b", "a@b", {"a@b"}},
      {"a@b, c@d", "a@b, c@d", {"a@b", "c@d"}},
      // qmail-header(5) ADDRESS LISTS example.
      {"a@b, c@d (Somebody), A Person <e@f>,\n   random group: g@h, i@j;, k@l",
       "a@b, c@d (Somebody), A Person <e@f>, random group: g@h, i@j;, k@l",
       {"a@b", "c@d", "e@f", "g@h", "i@j", "k@l"}},
      // An illegal space means a comma.
      {"djb fred", "djb, fred", {"djb", "fred"}},
      {"a@b.c d@e", "a@b.c, d@e", {"a@b.c", "d@e"}},
      // Spaces around specials are fine.
      {"a @ b . c", "a@b.c", {"a@b.c"}},
      // addresses(5) examples.
      {"< \"God\"@heaven .af.mil>", "<God@heaven.af.mil>", {"God@heaven.af.mil"}},
      {"\"a\\\"quote\" (Who?) @ heaven . af.  mil",
       "\"a\\\"quote\"@heaven.af.mil (Who?)",
       {"a\"quote@heaven.af.mil"}},
      {"God<\"The Almighty.One\"@heaven.af.mil>",
       "God <\"The Almighty.One\"@heaven.af.mil>",
       {"The Almighty.One@heaven.af.mil"}},
      {"\"The Almighty\".One@heaven.af.mil",
       "\"The Almighty.One\"@heaven.af.mil",
       {"The Almighty.One@heaven.af.mil"}},
      // Routes are stripped.
      {"<@brl.mil:\"a\\\"quote\"@heaven.af.mil>",
       "<\"a\\\"quote\"@heaven.af.mil>",
       {"a\"quote@heaven.af.mil"}},
      {"<@a,@b:c@d>", "<c@d>", {"c@d"}},
      // Null address, empty groups.
      {"<>", "<>", {""}},
      {"recipient list not shown: ;", "recipient list not shown: ;", {}},
      {"undisclosed-recipients:;", "undisclosed-recipients: ;", {}},
      // A group left open is closed; ';' outside a group separates.
      {"g: a@b, c@d", "g: a@b, c@d;", {"a@b", "c@d"}},
      {"a@b; c@d", "a@b, c@d", {"a@b", "c@d"}},
      // Empty elements vanish.
      {", a@b,,, c@d ,", "a@b, c@d", {"a@b", "c@d"}},
      {"", "", {}},
      // Comments anywhere go with their address.
      {"(lead) a(in)@b (trail)", "a@b (lead) (in) (trail)", {"a@b"}},
      {"(nested (comment) \\) here) x@y", "x@y (nested (comment) \\) here)", {"x@y"}},
      {"(only a comment)", "(only a comment)", {}},
      // Display names: quoted strings kept, obs-phrase dots kept.
      {"\"Doe, John\" <j@d>", "\"Doe, John\" <j@d>", {"j@d"}},
      {"John Q. Public <jqp@x>", "John Q. Public <jqp@x>", {"jqp@x"}},
      // A phrase that holds specials gets quoted.
      {"bob@example.com <bob@example.com>",
       "\"bob@example.com\" <bob@example.com>",
       {"bob@example.com"}},
      // Missing comma after <...>.
      {"A <a@b> B <c@d>", "A <a@b>, B <c@d>", {"a@b", "c@d"}},
      {"<a@b> c@d", "<a@b>, c@d", {"a@b", "c@d"}},
      // Missing host, trailing at, domain literal, several ats.
      {"fred", "fred", {"fred"}},
      {"fred@", "fred@", {"fred@"}},
      {"djb@[128.32.183.163]", "djb@[128.32.183.163]", {"djb@[128.32.183.163]"}},
      {"a@b@c", "\"a@b\"@c", {"a@b@c"}},
      // 8-bit and folding.
      {"J\xc3\xb6rg <j\xc3\xb6rg@ex\xc3\xa4mple.de>",
       "J\xc3\xb6rg <j\xc3\xb6rg@ex\xc3\xa4mple.de>",
       {"j\xc3\xb6rg@ex\xc3\xa4mple.de"}},
      {"a@b,\r\n\tc@d", "a@b, c@d", {"a@b", "c@d"}},
      {"\"folded\r\n quote\"@x", "\"folded quote\"@x", {"folded quote@x"}},
  };
  for (const auto& c : cases) {
    auto r = parse_list(c.in);
    ASSERT_TRUE(r.is_ok()) << c.in << ": " << r.status().message();
    EXPECT_EQ(format_list(*r, 0, 1000), c.formatted) << c.in;
    EXPECT_EQ(addresses(*r), c.addrs) << c.in;
    // Formatting is a fixed point: parsing the output gives it back.
    auto again = parse_list(format_list(*r, 0, 1000));
    ASSERT_TRUE(again.is_ok()) << c.formatted;
    EXPECT_EQ(format_list(*again, 0, 1000), c.formatted);
  }
}

TEST(Addr, ParseErrors) {
  const char* cases[] = {
      "\"unterminated",
      "(unterminated comment",
      "a@[1.2.3.4",
      "<a@b",
      "a@b>",
      "<<a@b>>",
      "g1: g2: a@b;",
      "a)b",
      "x]",
      "<a b@c>",
      "<a,b@c>",
      "<a@b>.c",
      "<a@b>@c",
      "a@\"quoted\".domain",
  };
  for (const char* c : cases) {
    auto r = parse_list(c);
    EXPECT_FALSE(r.is_ok()) << c;
    if (!r.is_ok()) {
      EXPECT_TRUE(r.status().is_perm()) << c;
    }
  }
  std::string deep(kMaxCommentDepth + 1, '(');
  deep += std::string(kMaxCommentDepth + 1, ')');
  EXPECT_FALSE(parse_list(deep).is_ok());
  std::string ok(kMaxCommentDepth, '(');
  ok += std::string(kMaxCommentDepth, ')');
  EXPECT_TRUE(parse_list(ok).is_ok());
}

TEST(Addr, ParseOne) {
  auto m = parse_one("Fred <fred@example.com>");
  ASSERT_TRUE(m.is_ok());
  EXPECT_EQ(m->address(), "fred@example.com");
  EXPECT_EQ(m->phrase, "Fred");
  EXPECT_TRUE(parse_one("<>")->is_null());
  EXPECT_FALSE(parse_one("a@b, c@d").is_ok());
  EXPECT_FALSE(parse_one("").is_ok());
  EXPECT_FALSE(parse_one("g: a@b;").is_ok());
}

TEST(Addr, FoldsLongLists) {
  AddressList list;
  for (int i = 0; i < 1000; ++i) {
    Mailbox m;
    m.local = "user" + std::to_string(i);
    m.domain = "example.com";
    m.has_at = true;
    list.emplace_back(m);
  }
  std::string out = format_list(list, 4);
  std::size_t start = 0, lines = 0;
  while (start < out.size()) {
    std::size_t nl = out.find('\n', start);
    std::size_t len = (nl == std::string::npos ? out.size() : nl) - start;
    EXPECT_LE(len + (lines == 0 ? 4 : 0), 78u);
    ++lines;
    if (nl == std::string::npos) break;
    EXPECT_EQ(out.substr(nl, 3), "\n  ");
    start = nl + 1;
  }
  EXPECT_GT(lines, 10u);
  auto back = parse_list(out);
  ASSERT_TRUE(back.is_ok());
  auto a = addresses(*back);
  ASSERT_EQ(a.size(), 1000u);
  EXPECT_EQ(a[999], "user999@example.com");
}

TEST(Addr, VeryLongListIsLinear) {
  std::string big;
  for (int i = 0; i < 50000; ++i) big += "someone" + std::to_string(i) + "@example.com, ";
  auto r = parse_list(big);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->size(), 50000u);
}

TEST(Addr, NulIsAnAtomByte) {
  std::string in("a\0b@c", 5);
  auto r = parse_list(in);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(addresses(*r)[0], in);
}

}  // namespace
}  // namespace qmail::addr
