// Option parsing as qmail's programs do it (POSIX getopt rules): options
// cluster ("-an"), an option's argument is the rest of its word or the next
// word, "--" ends the options, and so does the first operand.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace qmail::inject {

class GetOpt {
 public:
  // `args[0]` is the program name. `spec` lists the letters, each followed
  // by ':' when it takes an argument ("aAhHnNf:").
  GetOpt(std::span<char*> args, std::string_view spec) : args_(args), spec_(spec) {}

  // The next option letter; 0 when the options end; '?' for an unknown
  // letter or a missing argument (letter() then tells which).
  int next();
  // The argument of the option just returned.
  const char* arg() const { return arg_; }
  char letter() const { return letter_; }
  // Index of the first operand once next() returned 0.
  std::size_t index() const { return index_; }
  // Skips whatever is left of the current cluster (sendmail's -E and -J
  // take an optional glued argument).
  void skip_rest() { pos_ = 0, ++index_; }

 private:
  std::span<char*> args_;
  std::string_view spec_;
  std::size_t index_ = 1;
  std::size_t pos_ = 0;  // position inside args_[index_], 0 = at its start
  const char* arg_ = nullptr;
  char letter_ = 0;
};

}  // namespace qmail::inject
