#include "queue/clean.h"

#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <set>
#include <string>
#include <vector>

#include "base/log.h"
#include "base/strings.h"
#include "fs/fs.h"
#include "io/io.h"
#include "queue/recycle.h"

namespace qmail::queue::clean {

namespace {

// Removes `path`; returns whether a file was there. Errors: temp.
Result<bool> remove(const std::string& path) {
  if (::unlink(path.c_str()) == 0) return true;
  if (errno == ENOENT) return false;
  return Status::temp_errno("unable to remove " + path);
}

bool old(const struct stat& st, std::time_t now) { return st.st_mtime + kOssified < now; }

// The pool's size as this process knows it (recycle.h).
Status recycle(const Layout& q, const std::string& path, bool empty_first) {
  static PoolCount pool;
  return pool.recycle(q, path, empty_first);
}

}  // namespace

Status handle(const Layout& q, std::string_view request, std::set<std::string>* to_sync) {
  if (request.size() < 2) return Status::perm("malformed request");
  auto id = str::parse_uint(request.substr(1));
  if (!id) return Status::perm("malformed request");
  switch (request[0]) {
    case 'x': {
      // intd first (a second name of the todo inode: with it gone, todo's
      // inode has one link and can be recycled), then todo: once it is
      // gone nothing will start on the message; a crash before that only
      // makes qmail-send deliver it again. The mess file goes LAST: its
      // inode number is the message id, and while it has its name no
      // qmail-queue can be given the same id. Removing it before intd/<id>
      // would let a concurrent qmail-queue reuse the inode, create its own
      // intd/<id>, and have us unlink that.
      // Inodes nobody uses any more go to the pool (queue/recycle.h).
      // Nothing is fsynced: a crash that undoes any of these removals
      // leaves todo/<id> (delivered again), info/<id> (qmail-send finishes
      // the message again, and info/<id> without mess/<id> counts as
      // finished) or, once info/<id> is gone, a mess file with no todo and
      // no info, which qmail-send's sweep hands back to us when it is
      // kOssified old.
      QMAIL_RETURN_IF_ERROR(fs::unlink(q.intd(*id)));
      QMAIL_RETURN_IF_ERROR(recycle(q, q.todo(*id), false));
      return recycle(q, q.mess(*id), true);
    }
    case 'i': {
      // The mess file stays; info/local/remote now stand for the message.
      // An intd file left by a crash (one link, no todo) is removed by
      // sweep() once it is old, and only the intd file. todo/<id> must be
      // gone for good before qmail-send starts deliveries: were it to come
      // back, the message would be preprocessed and delivered again.
      QMAIL_RETURN_IF_ERROR(fs::unlink(q.intd(*id)));
      // The envelope inode (one link now) goes to the pool when it can
      // (queue/recycle.h); not emptied (a crash must not leave an empty
      // todo/<id>).
      struct stat st;
      if (::lstat(q.todo(*id).c_str(), &st) != 0) {
        if (errno == ENOENT) return Status::ok();
        return Status::temp_errno("unable to stat " + q.todo(*id));
      }
      QMAIL_RETURN_IF_ERROR(recycle(q, q.todo(*id), false));
      if (to_sync) {
        to_sync->insert(q.dir("todo"));
        return Status::ok();
      }
      return fs::fsync_dir(q.dir("todo"));
    }
    default:
      return Status::perm("malformed request");
  }
}

Result<SweepStats> sweep(const Layout& q, std::time_t now) {
  SweepStats stats;

  const std::string pid_dir = q.dir("pid");
  QMAIL_ASSIGN_OR_RETURN(auto pids, fs::list_dir(pid_dir));
  bool pid_changed = false;
  for (const auto& name : pids) {
    std::string path = pid_dir + "/" + name;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0 || !old(st, now)) continue;
    auto r = remove(path);
    if (!r.is_ok()) {
      log::warn(r.status().message());
      continue;
    }
    if (*r) {
      ++stats.pid_files;
      pid_changed = true;
    }
  }
  if (pid_changed) {
    Status s = fs::fsync_dir(pid_dir);
    if (!s.is_ok()) log::warn(s.message());
  }

  const std::string intd_dir = q.dir("intd");
  QMAIL_ASSIGN_OR_RETURN(auto intds, fs::list_dir(intd_dir));
  std::vector<std::uint64_t> dead;
  for (const auto& name : intds) {
    auto id = str::parse_uint(name);
    if (!id) continue;
    struct stat st;
    if (::lstat((intd_dir + "/" + name).c_str(), &st) != 0) continue;
    // Two links: committed (todo/<id> is the other). One link and old: a
    // qmail-queue that died before the commit.
    if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || !old(st, now)) continue;
    dead.push_back(*id);
  }
  if (dead.empty()) return stats;

  for (auto id : dead) {
    auto r = remove(q.intd(id));
    if (!r.is_ok())
      log::warn(r.status().message());
    else if (*r)
      ++stats.intd_files;
  }
  if (stats.intd_files > 0) {
    Status st = fs::fsync_dir(intd_dir);
    if (!st.is_ok()) log::warn(st.message());
  }
  return stats;
}

namespace {

void sweep_and_log(const Layout& q) {
  auto r = sweep(q, std::time(nullptr));
  if (!r.is_ok()) {
    log::warn(r.status().message());
    return;
  }
  if (r->pid_files || r->intd_files)
    log::info("removed debris of unfinished messages: " + std::to_string(r->pid_files) + " pid, " +
              std::to_string(r->intd_files) + " intd");
}

}  // namespace

Status serve(const Layout& q, int in, int out) {
  // The lease-break signal (queue/recycle.h): someone opening a file we
  // are about to recycle only waits a moment; it must not kill us.
  ::signal(SIGIO, SIG_IGN);
  sweep_and_log(q);
  std::time_t next_sweep = std::time(nullptr) + kSweepInterval;

  std::string pending;      // an incomplete request
  bool discarding = false;  // inside an overlong request
  char buf[4096];
  for (;;) {
    std::time_t now = std::time(nullptr);
    if (now >= next_sweep) {
      sweep_and_log(q);
      next_sweep = now + kSweepInterval;
    }
    struct pollfd p {
      in, POLLIN, 0
    };
    int wait_ms = static_cast<int>((next_sweep - now) * 1000);
    int n = ::poll(&p, 1, wait_ms < 0 ? 0 : wait_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::temp_errno("poll");
    }
    if (n == 0) continue;  // idle: time to sweep

    ssize_t got = ::read(in, buf, sizeof buf);
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return Status::temp_errno("unable to read requests");
    }
    if (got == 0) {
      if (!pending.empty() || discarding) log::warn("request truncated at end of input");
      return Status::ok();
    }

    // Every request that arrived together is carried out first; then one
    // fsync per directory that needs it; then the replies.
    std::string replies;
    std::vector<bool> needs_sync;
    std::set<std::string> to_sync;
    std::string_view data(buf, static_cast<std::size_t>(got));
    while (!data.empty()) {
      std::size_t nul = data.find('\0');
      std::string_view piece = data.substr(0, nul);
      if (!discarding) {
        if (pending.size() + piece.size() > kMaxRequest) {
          discarding = true;
          pending.clear();
        } else {
          pending.append(piece);
        }
      }
      if (nul == std::string_view::npos) break;
      data.remove_prefix(nul + 1);
      Status s = discarding ? Status::perm("request too long") : handle(q, pending, &to_sync);
      if (!s.is_ok()) {
        // qmail-send is a sibling: garbage from it is logged and answered
        // with a temporary failure.
        log::warn((s.is_perm() ? "bad request: " : "") + s.message() +
                  (s.is_perm() ? " (" + log::escape(pending) + ")" : ""));
      }
      replies += s.is_ok() ? '+' : '!';
      needs_sync.push_back(s.is_ok() && pending[0] == 'i');
      pending.clear();
      discarding = false;
    }
    bool synced = true;
    for (const auto& dir : to_sync) {
      Status s = fs::fsync_dir(dir);
      if (!s.is_ok()) {
        log::warn(s.message());
        synced = false;
      }
    }
    if (!synced)
      for (std::size_t i = 0; i < replies.size(); ++i)
        if (needs_sync[i]) replies[i] = '!';
    if (!replies.empty()) QMAIL_RETURN_IF_ERROR(io::write_all(out, replies));
  }
}

}  // namespace qmail::queue::clean
