// qmail-queue: queue a mail message for delivery (qmail-queue(8)).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <optional>

#include "base/exit_codes.h"
#include "base/run_program.h"
#include "fs/fs.h"
#include "home/home.h"
#include "queue/enqueue.h"

namespace {

using namespace qmail;

int qmail_queue(std::span<char*>) {
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
  queue::arm_timeout(queue::kQueueTimeout);

  // home::dir() ignores $QMAILHOME in a setuid process; nothing else in the
  // environment is consulted.
  if (!fs::open_dir(home::dir()).is_ok()) return queue_exit::kQueueDir;
  auto ids = home::load_ids();

  queue::EnqueueRequest req;
  req.message_fd = 0;
  req.envelope_fd = 1;
  req.uid = ::getuid();
  req.pid = ::getpid();
  req.received =
      queue::received_line(req.pid, req.uid, ids.is_ok() ? &*ids : nullptr, std::time(nullptr));
  queue::Layout q = queue::Layout::from_home();
  int rc = queue::enqueue(q, req);
  if (rc == queue_exit::kOk) queue::pull_trigger(q);
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  return qmail::run_program("qmail-queue", argc, argv, qmail_queue,
                            qmail::queue_exit::kOutOfMemory);
}
