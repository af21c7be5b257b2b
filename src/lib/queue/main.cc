#include "queue/main.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>

#include "base/exit_codes.h"
#include "fs/fs.h"
#include "home/home.h"
#include "queue/enqueue.h"
#include "queue/serve.h"

namespace qmail::queue {

namespace {

// qmail's users, read once per process (qmail compiled them in): a
// reused qmail-smtpd queues many messages. Null if unreadable.
const home::Ids* queue_ids() {
  static const Result<home::Ids> ids = home::load_ids();
  return ids.is_ok() ? &*ids : nullptr;
}

// home::dir() ignores $QMAILHOME in a setuid process; nothing else in the
// environment is consulted.
bool home_is_there() { return fs::open_dir(home::dir()).is_ok(); }

}  // namespace

int queue_prepare(uid_t uid, pid_t pid, std::string* received) {
  if (!home_is_there()) return queue_exit::kQueueDir;
  *received = received_line(pid, uid, queue_ids(), std::time(nullptr));
  return 0;
}

int queue_main(std::span<char*>) {
  // qmail-queue(8): "does not print diagnostics". Make sure fds 0-2 exist,
  // so that no file we open lands on one of them (and a stray log line
  // cannot end up inside a message).
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) == -1 && ::open("/dev/null", O_RDWR) != fd)
      return queue_exit::kInternalBug;
  }
  // Queue files must be readable by group qmail (qmail-rspawn runs as
  // qmailr) whatever umask our caller had.
  ::umask(033);
  arm_timeout(kQueueTimeout);
  // A caller that queues message after message (queue/serve.h).
  if (is_serve_channel(0)) {
    if (!home_is_there()) return queue_exit::kQueueDir;
    return serve(0, Layout::from_home(), queue_ids());
  }

  EnqueueRequest req;
  req.message_fd = 0;
  req.envelope_fd = 1;
  req.uid = ::getuid();
  req.pid = ::getpid();
  if (int rc = queue_prepare(req.uid, req.pid, &req.received)) return rc;
  Layout q = Layout::from_home();
  int rc = enqueue(q, req);
  if (rc == queue_exit::kOk) pull_trigger(q);
  return rc;
}

}  // namespace qmail::queue
