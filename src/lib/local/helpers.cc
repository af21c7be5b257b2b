#include "local/helpers.h"

#include <unistd.h>

#include <cstdlib>

#include "local/message.h"

namespace qmail::local {

Result<std::string> required_env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr) return Status::perm(std::string(name) + " not set");
  return std::string(v);
}

Result<Fd> message_on_stdin() {
  QMAIL_ASSIGN_OR_RETURN(Fd fd, seekable_message(0));
  // seekable_message returned a copy when fd 0 was a pipe: use it as fd 0.
  if (::lseek(0, 0, SEEK_SET) != 0) {
    if (::dup2(fd.get(), 0) < 0) return Status::temp_errno("unable to dup message");
    if (::lseek(0, 0, SEEK_SET) != 0) return Status::temp_errno("unable to rewind message");
  }
  return fd;
}

}  // namespace qmail::local
