#include "priv/priv.h"

#include <grp.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <string>

namespace qmail::priv {

bool is_root() { return ::geteuid() == 0; }

Status become(uid_t uid, gid_t gid) {
  if (!is_root()) {
    if (::geteuid() == uid && ::getuid() == uid) return Status::ok();
    return Status::temp("cannot switch to uid " + std::to_string(uid) + " without root (#4.3.0)");
  }
  if (::setgroups(1, &gid) != 0) return Status::temp_errno("setgroups");
  if (::setresgid(gid, gid, gid) != 0) return Status::temp_errno("setresgid");
  if (::setresuid(uid, uid, uid) != 0) return Status::temp_errno("setresuid");
  if (uid != 0 && (::setuid(0) == 0 || ::geteuid() == 0))
    return Status::temp("root privileges could be regained (#4.3.0)");
#if defined(__SANITIZE_ADDRESS__)
  // Sanitizer builds only: LeakSanitizer needs a dumpable process to stop
  // its threads at exit; changing uids clears the flag.
  (void)::prctl(PR_SET_DUMPABLE, 1);
#endif
  return Status::ok();
}

}  // namespace qmail::priv
