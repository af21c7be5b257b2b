#include "smtp/data.h"

#include <gtest/gtest.h>

#include <string>

namespace qmail::smtp {
namespace {

struct Out {
  DataReader::State state;
  std::string stored;
  std::size_t used;
};

Out run(std::string_view in, std::uint64_t databytes = 1000, std::size_t step = 0) {
  DataReader r(databytes);
  Out o{DataReader::State::kMore, "", 0};
  if (step == 0) step = in.size() ? in.size() : 1;
  while (o.used < in.size() && r.state() == DataReader::State::kMore) {
    o.used += r.feed(in.substr(o.used, step), o.stored);
  }
  o.state = r.state();
  return o;
}

TEST(DataReader, EndsOnlyOnCrLfDotCrLf) {
  struct Case {
    std::string in;
    DataReader::State state;
    std::string stored;
    std::size_t used;
  } cases[] = {
      {"a\r\n.\r\nNEXT", DataReader::State::kDone, "a\n", 6},
      {".\r\n", DataReader::State::kDone, "", 3},
      {"..\r\n.\r\n", DataReader::State::kDone, ".\n", 7},
      {"a\n.\n", DataReader::State::kBareLf, "a", 2},
      {"a\r\n.\n", DataReader::State::kBareLf, "a\n", 5},
      {"a\r.\r\nb\r\n.\r\n", DataReader::State::kDone, "a\r.\nb\n", 11},
      {"a\r\n.\rX\r\n.\r\n", DataReader::State::kDone, "a\n\rX\n", 11},
      {"a\r\n.\r\r\n.\r\n", DataReader::State::kDone, "a\n\r\n", 10},
      {"a\r\r\n.\r\n", DataReader::State::kDone, "a\r\n", 7},
      {"a\r\n.x\r\n", DataReader::State::kMore, "a\nx\n", 7},
  };
  for (const auto& c : cases) {
    for (std::size_t step : {std::size_t{0}, std::size_t{1}, std::size_t{2}}) {
      Out o = run(c.in, 1000, step);
      EXPECT_EQ(o.state, c.state) << c.in << " step " << step;
      EXPECT_EQ(o.stored, c.stored) << c.in << " step " << step;
      EXPECT_EQ(o.used, c.used) << c.in << " step " << step;
    }
  }
}

TEST(DataReader, Databytes) {
  DataReader r(5);
  std::string out;
  r.feed("12345\r\n.\r\n", out);
  EXPECT_TRUE(r.too_big());
  EXPECT_EQ(r.state(), DataReader::State::kDone);
  EXPECT_EQ(out, "12345");
  DataReader exact(6);
  std::string out2;
  exact.feed("12345\r\n.\r\n", out2);
  EXPECT_FALSE(exact.too_big());
  EXPECT_EQ(out2, "12345\n");
}

TEST(DataReader, Hops) {
  std::string in;
  for (int i = 0; i < 3; ++i) in += "Received: x\r\nDELIVERED-TO: y\r\n";
  in += "X-Received: no\r\n\r\nReceived: in body\r\n.\r\n";
  DataReader r(100000);
  std::string out;
  r.feed(in, out);
  EXPECT_EQ(r.hops(), 6u);
}

TEST(DataReader, EightBit) {
  DataReader r(100);
  std::string out;
  r.feed("a\xff\r\n.\r\n", out);
  EXPECT_TRUE(r.eight_bit());
}

}  // namespace
}  // namespace qmail::smtp
