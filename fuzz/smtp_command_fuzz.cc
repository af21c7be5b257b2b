// Fuzzes the SMTP command-line parser, MAIL parameters and the DATA state
// machine (whole and in pieces, which must agree).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/check.h"
#include "smtp/command.h"
#include "smtp/data.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);

  auto cmd = qmail::smtp::parse_command(in);
  if (!cmd.arg.empty())
    QMAIL_CHECK(cmd.arg.data() >= in.data() &&
                cmd.arg.data() + cmd.arg.size() <= in.data() + in.size());
  (void)qmail::smtp::parse_mail_params(in).is_ok();
  (void)qmail::smtp::check_rcpt_params(in).is_ok();

  qmail::smtp::DataReader whole(size ? data[0] * 4 : 0);
  std::string out1;
  std::size_t used1 = whole.feed(in, out1);
  QMAIL_CHECK(used1 <= in.size());
  QMAIL_CHECK(out1.size() <= used1);
  QMAIL_CHECK(out1.size() == whole.bytes());

  qmail::smtp::DataReader pieces(size ? data[0] * 4 : 0);
  std::string out2;
  std::size_t pos = 0, step = size ? (data[size - 1] % 5) + 1 : 1;
  while (pos < in.size() && pieces.state() == qmail::smtp::DataReader::State::kMore)
    pos += pieces.feed(in.substr(pos, step), out2);
  QMAIL_CHECK(pieces.state() == whole.state());
  QMAIL_CHECK(out2 == out1);
  QMAIL_CHECK(pieces.hops() == whole.hops());
  QMAIL_CHECK(pieces.too_big() == whole.too_big());
  if (whole.state() != qmail::smtp::DataReader::State::kMore) QMAIL_CHECK(pos == used1);
  return 0;
}
