#include "splogger/splogger.h"

#include <gtest/gtest.h>
#include <syslog.h>

namespace qmail::splogger {
namespace {

std::vector<Entry> run(std::string_view input) {
  int n = 0;
  Folder f([&n] { return "100." + std::to_string(++n); });
  std::vector<Entry> out;
  f.feed(input, out);
  f.finish(out);
  return out;
}

TEST(Splogger, OneEntryPerLineWithPriority) {
  EXPECT_EQ(run("status: local 0/10 remote 0/20\nwarning: trouble\nalert: oh no\n"),
            (std::vector<Entry>{{LOG_INFO, "100.1 status: local 0/10 remote 0/20"},
                                {LOG_WARNING, "100.2 warning: trouble"},
                                {LOG_ALERT, "100.3 alert: oh no"}}));
}

TEST(Splogger, BlankLinesDroppedUnprintablesReplaced) {
  EXPECT_EQ(run("\n\na\tb\x80\x7f\n\n"), (std::vector<Entry>{{LOG_INFO, "100.1 a?b??"}}));
}

TEST(Splogger, LongLinesFoldWithPlus) {
  std::string line = "alert: " + std::string(kChunk * 2, 'x');
  auto out = run(line + "\nnext\n");
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].text, "100.1 " + line.substr(0, kChunk));
  EXPECT_EQ(out[1].text, "100.1+" + line.substr(kChunk, kChunk));
  EXPECT_EQ(out[2].text, "100.1+" + line.substr(2 * kChunk));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(out[i].priority, LOG_ALERT);
  EXPECT_EQ(out[3], (Entry{LOG_INFO, "100.2 next"}));
}

TEST(Splogger, ExactlyOneChunk) {
  auto out = run(std::string(kChunk, 'y') + "\n");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].text, "100.1 " + std::string(kChunk, 'y'));
}

TEST(Splogger, Stamp) {
  EXPECT_EQ(format_stamp(1795000000, 42), "1795000000.000042");
  EXPECT_EQ(format_stamp(0, 999999), "0.999999");
}

}  // namespace
}  // namespace qmail::splogger
