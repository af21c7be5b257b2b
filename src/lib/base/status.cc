#include "base/status.h"

#include <cerrno>
#include <cstring>

namespace qmail {

Status Status::temp_errno(std::string_view what) { return temp_errno(what, errno); }

Status Status::temp_errno(std::string_view what, int err) {
  std::string msg(what);
  msg += ": ";
  msg += std::strerror(err);
  return Status(Kind::kTemp, std::move(msg), err);
}

}  // namespace qmail
