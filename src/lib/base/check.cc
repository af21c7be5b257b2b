#include "base/check.h"

#include <unistd.h>

#include <cstdlib>
#include <string>

namespace qmail::internal {

void check_failed(const char* file, int line, const char* expr) {
  std::string msg = "internal error: check failed at ";
  msg += file;
  msg += ":" + std::to_string(line) + ": ";
  msg += expr;
  msg += "\n";
  (void)!::write(2, msg.data(), msg.size());
  std::abort();
}

}  // namespace qmail::internal
