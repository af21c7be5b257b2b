#include "queue/serve.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <memory>

#include "base/exit_codes.h"
#include "io/fd.h"
#include "queue/enqueue.h"
#include "queue/inject.h"
#include "queue/layout.h"

namespace qmail::queue {

bool is_serve_channel(int fd) {
  int type = 0;
  socklen_t len = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_SEQPACKET)
    return false;
  struct sockaddr_storage ss {};
  socklen_t sl = sizeof ss;
  return ::getsockname(fd, reinterpret_cast<struct sockaddr*>(&ss), &sl) == 0 &&
         ss.ss_family == AF_UNIX;
}

namespace {

// A record's room, not filled in advance: only the pages a record
// reaches become the process's own (a zeroed 64 KiB were 64 KiB of
// private memory in each of a listener's many serving qmail-queues).
struct RecordBuffer {
  std::unique_ptr<char[]> bytes{new char[1 + kServeRecord]};
  char* data() { return bytes.get(); }
  static constexpr std::size_t size() { return 1 + kServeRecord; }
};

// One record from the caller: 1 = one in `*rec` (its type first), 0 = the
// caller hung up, -1 = a read error or a record larger than any allowed.
int next_record(int sock, RecordBuffer& buf, std::string_view* rec) {
  for (;;) {
    // MSG_TRUNC: the record's real length, even when it did not fit.
    ssize_t n = ::recv(sock, buf.data(), buf.size(), MSG_TRUNC);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) return 0;
    if (static_cast<std::size_t>(n) > buf.size()) return -1;
    *rec = std::string_view(buf.data(), static_cast<std::size_t>(n));
    return 1;
  }
}

void reply(int sock, int code) {
  unsigned char c = static_cast<unsigned char>(code);
  while (::send(sock, &c, 1, MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
}

// One message, whose first record is `rec`. Returns its exit code, or -1
// when the caller abandoned it (nothing queued, nothing to answer).
int serve_one(int sock, const Layout& q, const home::Ids* ids, RecordBuffer& buf,
              std::string_view rec) {
  if (rec[0] == kServeAbort) return -1;
  const uid_t uid = ::getuid();
  const pid_t pid = ::getpid();
  // Unfinished when this returns without a commit: ~Enqueuer removes its
  // files.
  Enqueuer e(q, uid, pid, true);
  int rc = e.begin(received_line(pid, uid, ids, std::time(nullptr)));
  while (rc == 0 && rec[0] == kServeMessage) {
    rc = e.write(rec.substr(1));
    if (rc == 0 && next_record(sock, buf, &rec) != 1) rc = queue_exit::kReadError;
  }
  if (rc != 0) return rc;
  if (rec[0] == kServeAbort) return -1;
  if (rec[0] != kServeEnvelope) return queue_exit::kReadError;
  return e.commit([&](int intd) {
    EnvelopeParser parser;
    for (;;) {
      int r = feed_envelope(parser, rec.substr(1), intd);
      if (r >= 0) return r;
      if (next_record(sock, buf, &rec) != 1 || rec[0] != kServeEnvelope)
        return static_cast<int>(queue_exit::kReadError);
    }
  });
}

}  // namespace

int serve(int sock, const Layout& q, const home::Ids* ids) {
  RecordBuffer buf;
  for (;;) {
    // qmail-queue(8) "Timeout", for each message (and the wait before it).
    arm_timeout(kQueueTimeout);
    std::string_view rec;
    int got = next_record(sock, buf, &rec);
    if (got == 0) return 0;
    if (got < 0) return queue_exit::kReadError;
    int rc;
    try {
      rc = serve_one(sock, q, ids, buf, rec);
    } catch (...) {
      rc = queue_exit::kOutOfMemory;  // the only exception we can meet
    }
    if (rc < 0) continue;  // abandoned
    if (rc == 0) pull_trigger(q);
    reply(sock, rc);
    if (rc != 0) return rc;
  }
}

QueueServer& QueueServer::get() {
  static QueueServer s;
  return s;
}

int QueueServer::reserve_slot() {
  if (slot_ < 0) {
    // Above 2: a worker puts /dev/null on 0 and 1 between connections,
    // and a caller started with one of them closed would get it here.
    Fd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (null.valid()) slot_ = ::fcntl(null.get(), F_DUPFD_CLOEXEC, 3);
  }
  return slot_;
}

int QueueServer::drop(bool kill) {
  busy_ = false;
  if (fd_ >= 0) {
    if (fd_ == slot_) {
      // The number stays ours (a worker keeps it open): on /dev/null.
      int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (null < 0 || ::dup3(null, slot_, O_CLOEXEC) != slot_) ::close(slot_);
      if (null >= 0) ::close(null);
    } else {
      ::close(fd_);
    }
    fd_ = -1;
  }
  int wstat = -1;
  if (pid_ > 0) {
    if (kill) ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, &wstat, 0) < 0) {
      if (errno != EINTR) {
        wstat = -1;
        break;
      }
    }
    pid_ = -1;
  }
  return wstat;
}

Status QueueServer::begin(const std::string& prog) {
  if (busy_) return Status::temp("qmail-queue is busy");
  if (fd_ >= 0) {
    // Between messages the server says nothing: anything readable is its
    // hang-up (it timed out, or was killed).
    struct pollfd p {
      fd_, POLLIN, 0
    };
    if (::poll(&p, 1, 0) != 0) drop(true);
  }
  if (fd_ < 0) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
      return Status::temp_errno("unable to create socket pair");
    Fd ours(sv[0]), theirs(sv[1]);
    pid_t pid = spawn_queue(prog.c_str(), theirs.get(), theirs.get());
    if (pid < 0) return Status::temp("unable to start " + prog);
    pid_ = pid;
    if (slot_ >= 0) {
      if (::dup3(ours.get(), slot_, O_CLOEXEC) != slot_) {
        drop(true);
        return Status::temp_errno("unable to move qmail-queue's channel");
      }
      fd_ = slot_;
    } else {
      fd_ = ours.release();
    }
  }
  busy_ = true;
  return Status::ok();
}

Status QueueServer::send(char type, std::string_view data) {
  if (fd_ < 0) return Status::temp("qmail-queue went away");
  do {
    std::string_view part = data.substr(0, kServeRecord);
    data.remove_prefix(part.size());
    struct iovec iov[2] = {{&type, 1}, {const_cast<char*>(part.data()), part.size()}};
    struct msghdr mh {};
    mh.msg_iov = iov;
    mh.msg_iovlen = part.empty() ? 1 : 2;
    while (::sendmsg(fd_, &mh, MSG_NOSIGNAL) < 0) {
      if (errno != EINTR) return Status::temp_errno("unable to write to qmail-queue");
    }
  } while (!data.empty());
  return Status::ok();
}

Result<int> QueueServer::result() {
  unsigned char code = 0;
  ssize_t n = -1;
  if (fd_ >= 0) {
    while ((n = ::recv(fd_, &code, 1, 0)) < 0 && errno == EINTR) {
    }
  }
  if (n == 1) {
    busy_ = false;
    // After a nonzero code the server exits.
    if (code != 0) drop(false);
    return static_cast<int>(code);
  }
  int wstat = drop(false);
  if (wstat == -1) return Status::temp_errno("unable to wait for qmail-queue");
  if (!WIFEXITED(wstat)) return Status::temp("qmail-queue crashed (#4.3.0)");
  int rc = WEXITSTATUS(wstat);
  // It exits 0 only after a hang-up between messages, never with a
  // message of ours unanswered.
  return rc == 0 ? queue_exit::kReadError : rc;
}

void QueueServer::abort() {
  busy_ = false;
  if (fd_ < 0) return;
  char a = kServeAbort;
  // Without waiting: a server that cannot take even this is stuck.
  if (::send(fd_, &a, 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1) drop(true);
}

}  // namespace qmail::queue
