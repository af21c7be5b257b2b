#include "remote/data.h"

namespace qmail::remote {

void DataEncoder::feed(std::string_view in, std::string& out) {
  out.reserve(out.size() + in.size() + in.size() / 32 + 8);
  for (char c : in) {
    if (pending_cr_) {
      pending_cr_ = false;
      out += "\r\n";
      line_start_ = true;
      if (c == '\n') continue;  // CRLF: one line end
    }
    if (c == '\r') {
      pending_cr_ = true;
      continue;
    }
    if (c == '\n') {
      out += "\r\n";
      line_start_ = true;
      continue;
    }
    if (line_start_ && c == '.') out += '.';
    line_start_ = false;
    out += c;
  }
}

void DataEncoder::finish(std::string& out) {
  if (pending_cr_) {
    pending_cr_ = false;
    out += "\r\n";
    line_start_ = true;
  }
  if (!line_start_) out += "\r\n";
  out += ".\r\n";
  line_start_ = true;
}

void MessageScan::feed(std::string_view in) {
  for (char c : in)
    if (static_cast<unsigned char>(c) >= 128) {
      eight_bit_ = true;
      break;
    }
  buf_.clear();
  enc_.feed(in, buf_);
  encoded_ += buf_.size();
}

}  // namespace qmail::remote
