#include "smtp/data.h"

#include <cstring>

#include "base/strings.h"

namespace qmail::smtp {

void DataReader::emit(char c, std::string& out) {
  if (static_cast<unsigned char>(c) >= 0x80) eight_bit_ = true;
  // qmail-smtpd(8) counts hops among header fields: the lines before the
  // first empty one.
  if (in_header_) {
    if (c == '\n') {
      if (stored_line_start_) {
        in_header_ = false;
      } else {
        std::string_view p(prefix_, prefix_len_);
        if (str::istarts_with(p, "received:") || str::istarts_with(p, "delivered-to:")) ++hops_;
      }
      stored_line_start_ = true;
      prefix_len_ = 0;
    } else {
      stored_line_start_ = false;
      if (prefix_len_ < sizeof prefix_) prefix_[prefix_len_++] = c;
    }
  }
  if (too_big_) return;
  if (bytes_ >= databytes_) {
    too_big_ = true;
    return;
  }
  ++bytes_;
  out.push_back(c);
}

std::size_t DataReader::feed(std::string_view in, std::string& out) {
  std::size_t i = 0;
  while (i < in.size() && state_ == State::kMore) {
    char c = in[i++];
    switch (pos_) {
      case Pos::kLineStart:
        if (c == '.') {
          pos_ = Pos::kDot;  // RFC 5321 4.5.2: the first dot of a line is removed
          break;
        }
        [[fallthrough]];
      case Pos::kDot:
      case Pos::kMid:
        if (c == '\r') {
          pos_ = pos_ == Pos::kDot ? Pos::kDotCr : Pos::kCr;
        } else if (c == '\n') {
          state_ = State::kBareLf;
        } else {
          emit(c, out);
          pos_ = Pos::kMid;
        }
        break;
      case Pos::kCr:
      case Pos::kDotCr:
        if (c == '\n') {
          if (pos_ == Pos::kDotCr) {
            state_ = State::kDone;  // CRLF "." CRLF
          } else {
            emit('\n', out);
            pos_ = Pos::kLineStart;
          }
        } else {
          emit('\r', out);  // a lone CR is data
          if (c == '\r') {
            pos_ = Pos::kCr;  // the second CR may start CRLF
          } else {
            emit(c, out);
            pos_ = Pos::kMid;
          }
        }
        break;
    }
  }
  return i;
}

}  // namespace qmail::smtp
