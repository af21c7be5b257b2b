#include "io/fd.h"

#include <unistd.h>

namespace qmail {

void Fd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

}  // namespace qmail
