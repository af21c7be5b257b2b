#include "inject/getopt.h"

#include <cstring>

namespace qmail::inject {

int GetOpt::next() {
  arg_ = nullptr;
  if (pos_ == 0) {
    if (index_ >= args_.size() || args_[index_] == nullptr) return 0;
    const char* w = args_[index_];
    if (w[0] != '-' || w[1] == '\0') return 0;
    if (std::strcmp(w, "--") == 0) {
      ++index_;
      return 0;
    }
    pos_ = 1;
  }
  const char* w = args_[index_];
  letter_ = w[pos_++];
  const char* rest = w + pos_;
  std::size_t at = spec_.find(letter_);
  bool known = letter_ != ':' && at != std::string_view::npos;
  bool takes_arg = known && at + 1 < spec_.size() && spec_[at + 1] == ':';
  if (!takes_arg) {
    if (*rest == '\0') pos_ = 0, ++index_;
    return known ? letter_ : '?';
  }
  pos_ = 0;
  ++index_;
  if (*rest != '\0') {
    arg_ = rest;
    return letter_;
  }
  if (index_ >= args_.size() || args_[index_] == nullptr) return '?';
  arg_ = args_[index_++];
  return letter_;
}

}  // namespace qmail::inject
