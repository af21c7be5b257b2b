// qmail-showctl(8): describes a home's configuration -- the compiled-in
// constants, the ids in users/ids, and every file in control/ with its
// value or default (qmail-control(5)).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace qmail::setup {

// How a control file is read.
enum class ControlKind { kInt, kLine, kList };

struct ControlFile {
  std::string_view name;
  ControlKind kind;
  // The default: a literal, or "" for files that default to control/me
  // (defaults_to_me) or have none.
  std::string_view def;
  bool defaults_to_me;
  // Sentence pieces: "<pre><value><post>." for each value.
  std::string_view pre, post;
  std::string_view used_by;
};

// qmail-control(5)'s table (and the files this project adds), sorted.
const std::vector<ControlFile>& control_files();

// The whole report for the home at `home`. Errors: temp when control/
// cannot be listed; a file that cannot be read is reported inline.
Result<std::string> showctl(const std::string& home);

}  // namespace qmail::setup
