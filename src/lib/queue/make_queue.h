// Creating the queue directory tree (what qmail's hier.c does for
// queue/), for qmail-setup and for tests.
#pragma once

#include <sys/types.h>

#include "base/status.h"
#include "queue/layout.h"

namespace qmail::queue {

// Who owns what in a root-mode queue (qmail's hier.c):
//   queue, pid, intd, todo, mess/*, lock    qmailq:qmail
//   info/*, local/*, remote/*, bounce       qmails:qmail
//   lock/sendmutex, lock/trigger            qmails:qmail
//   lock/tcpto                              qmailr:qmail
struct QueueOwners {
  uid_t qmailq, qmails, qmailr;
  gid_t qmail;
};

// Creates the queue tree at q.root(): pid intd todo bounce lock,
// mess|info|local|remote/0..kSplit-1, lock/trigger (FIFO, 0622),
// lock/sendmutex (empty, 0600), lock/tcpto (1024 zero bytes, 0644).
// Modes: queue 0750, pid 0700, intd 0700, todo 0750, mess/* 0750,
// info/* local/* remote/* bounce 0700, lock 0750.
// In root mode every entry is chowned as QueueOwners says; otherwise
// (single-user home) everything belongs to owners.qmailq:owners.qmail,
// chowned only when we are root. Idempotent: existing entries get their
// owner and mode set again; nothing is ever removed or truncated, and an
// existing lock/tcpto keeps its contents. Errors: temp, e.g. when
// lock/trigger exists but is not a FIFO.
Status make_queue(const Layout& q, const QueueOwners& owners, bool root_mode);

// The same with one owner and group. In root mode `owner`/`group` are
// qmailq/qmail, and qmails and qmailr are looked up with getpwnam (temp
// error if missing); otherwise everything belongs to owner:group.
Status make_queue(const Layout& q, uid_t owner, gid_t group, bool root_mode);

}  // namespace qmail::queue
