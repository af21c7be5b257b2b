// Privilege changes, in one order: resolve ids, setgroups, setresgid,
// setresuid, verify root cannot come back. Nothing else in the tree calls
// setuid-family functions.
#pragma once

#include <sys/types.h>

#include "base/status.h"

namespace qmail::priv {

// Becomes `uid`/`gid` (supplementary groups: just `gid`) for good. When the
// process is not root, succeeds only if it already is `uid` (an
// unprivileged home runs everything as one user). Errors: temp.
Status become(uid_t uid, gid_t gid);

// Are we root (effective uid 0)?
bool is_root();

}  // namespace qmail::priv
