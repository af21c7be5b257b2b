#include "queue/envelope.h"

#include <gtest/gtest.h>

namespace qmail::queue {
namespace {

template <std::size_t N>
std::string bytes(const char (&lit)[N]) {
  return std::string(lit, N - 1);
}

using Error = EnvelopeParser::Error;

struct Case {
  std::string name;
  std::string input;
  Error want_error;
  bool want_done;
  std::size_t want_used;  // bytes consumed
};

TEST(EnvelopeParser, Table) {
  std::string long_addr(kMaxAddress, 'a');
  const std::vector<Case> cases = {
      {"simple", bytes("Fa@b\0Tc@d\0\0"), Error::kNone, true, 11},
      {"null sender, no rcpt", bytes("F\0\0"), Error::kNone, true, 3},
      {"trailing junk ignored", bytes("F\0Tx\0\0garbage"), Error::kNone, true, 6},
      {"missing F", bytes("Ta@b\0\0"), Error::kFormat, false, 1},
      {"empty", "", Error::kFormat, false, 0},
      {"missing terminator", bytes("Fa@b\0Tc@d\0"), Error::kFormat, false, 10},
      {"truncated address", bytes("Fa@b\0Tc@"), Error::kFormat, false, 8},
      {"bad record letter", bytes("Fa@b\0Xc@d\0\0"), Error::kFormat, false, 6},
      {"max length ok", "F" + long_addr + bytes("\0T") + long_addr + bytes("\0\0"), Error::kNone,
       true, 2 * kMaxAddress + 5},
      {"sender too long", "F" + long_addr + "a" + bytes("\0\0"), Error::kTooLong, false, 1},
      {"rcpt too long", bytes("F\0T") + long_addr + "b" + bytes("\0\0"), Error::kTooLong, false, 3},
  };
  for (const auto& c : cases) {
    // Whole buffer, and then one byte at a time: same verdict.
    EnvelopeParser whole;
    std::size_t used = whole.feed(c.input);
    whole.eof();
    EXPECT_EQ(whole.error(), c.want_error) << c.name;
    EXPECT_EQ(whole.done(), c.want_done) << c.name;
    if (c.want_error == Error::kNone) {
      EXPECT_EQ(used, c.want_used) << c.name;
    }

    EnvelopeParser bytewise;
    std::size_t total = 0;
    for (char ch : c.input) {
      std::size_t u = bytewise.feed(std::string_view(&ch, 1));
      total += u;
      if (u == 0) break;
    }
    bytewise.eof();
    EXPECT_EQ(bytewise.error(), c.want_error) << c.name << " (bytewise)";
    EXPECT_EQ(bytewise.done(), c.want_done) << c.name << " (bytewise)";
    if (c.want_error == Error::kNone) {
      EXPECT_EQ(total, c.want_used) << c.name;
    }
  }
}

TEST(EnvelopeParser, CountsRecipients) {
  std::string env = "Fs";
  env += '\0';
  for (int i = 0; i < 10000; ++i) {
    env += "Tr" + std::to_string(i) + "@example.test";
    env += '\0';
  }
  env += '\0';
  EnvelopeParser p;
  EXPECT_EQ(p.feed(env), env.size());
  EXPECT_TRUE(p.done());
  EXPECT_EQ(p.recipients(), 10000u);
}

TEST(ParseEnvelope, SplitsRecords) {
  auto e = parse_envelope(bytes("Fa@b\0Tc@d\0T\0Te@f\0\0"));
  ASSERT_TRUE(e.is_ok());
  EXPECT_EQ(e->sender, "a@b");
  EXPECT_EQ(e->recipients, (std::vector<std::string>{"c@d", "", "e@f"}));
}

TEST(ParseEnvelope, Errors) {
  auto fmt = parse_envelope(bytes("Fa@b\0Tc"));
  ASSERT_FALSE(fmt.is_ok());
  EXPECT_TRUE(fmt.status().is_temp());
  auto longer = parse_envelope("F" + std::string(kMaxAddress + 1, 'x') + bytes("\0\0"));
  ASSERT_FALSE(longer.is_ok());
  EXPECT_TRUE(longer.status().is_perm());
}

TEST(QueueEnvelope, RoundTrip) {
  QueueEnvelope in{1000, 4321, "s@x", {"a@y", "b@z"}};
  std::string text = format_queue_envelope(in);
  EXPECT_EQ(text, bytes("u1000\0p4321\0Fs@x\0Ta@y\0Tb@z\0"));
  auto out = parse_queue_envelope(text);
  ASSERT_TRUE(out.is_ok());
  EXPECT_EQ(out->uid, 1000u);
  EXPECT_EQ(out->pid, 4321u);
  EXPECT_EQ(out->sender, "s@x");
  EXPECT_EQ(out->recipients, in.recipients);
}

TEST(QueueEnvelope, RejectsBrokenFiles) {
  for (std::string bad : {bytes("u1\0p2\0Fs"), bytes("uX\0Fs\0"), bytes("u1\0p2\0Ta\0Fs\0"),
                          bytes("Fs\0Fs\0"), bytes("u1\0p2\0"), std::string()}) {
    EXPECT_FALSE(parse_queue_envelope(bad).is_ok()) << bad;
  }
  // Unknown records are skipped.
  auto ok = parse_queue_envelope(bytes("u1\0p2\0Xnew\0Fs\0Tr\0"));
  ASSERT_TRUE(ok.is_ok());
  EXPECT_EQ(ok->recipients.size(), 1u);
}

}  // namespace
}  // namespace qmail::queue
