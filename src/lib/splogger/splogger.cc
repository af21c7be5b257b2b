#include "splogger/splogger.h"

#include <syslog.h>

#include <cstdio>

namespace qmail::splogger {

void Folder::flush(std::vector<Entry>& out) {
  if (buf_.empty()) return;
  if (cont_) {
    out.push_back({priority_, line_stamp_ + "+" + buf_});
  } else {
    line_stamp_ = stamp_();
    priority_ = LOG_INFO;
    if (buf_.starts_with("warning:")) priority_ = LOG_WARNING;
    if (buf_.starts_with("alert:")) priority_ = LOG_ALERT;
    out.push_back({priority_, line_stamp_ + " " + buf_});
    cont_ = true;
  }
  buf_.clear();
}

void Folder::feed(std::string_view bytes, std::vector<Entry>& out) {
  for (char ch : bytes) {
    if (ch == '\n') {
      flush(out);
      cont_ = false;
      continue;
    }
    if (buf_.size() == kChunk) flush(out);
    auto u = static_cast<unsigned char>(ch);
    buf_ += (u < 32 || u > 126) ? '?' : ch;
  }
}

void Folder::finish(std::vector<Entry>& out) {
  flush(out);
  cont_ = false;
}

std::string format_stamp(long long sec, long usec) {
  char b[48];
  std::snprintf(b, sizeof b, "%lld.%06ld", sec, usec);
  return b;
}

}  // namespace qmail::splogger
