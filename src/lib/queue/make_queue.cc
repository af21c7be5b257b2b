#include "queue/make_queue.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "fs/fs.h"
#include "io/io.h"

namespace qmail::queue {

namespace {

// qmail-tcpto's table: 1024 bytes (qmail's hier.c).
inline constexpr std::size_t kTcptoSize = 1024;

struct Maker {
  bool chown;

  Status fix(const std::string& path, uid_t uid, gid_t gid, mode_t mode, mode_t type) {
    QMAIL_ASSIGN_OR_RETURN(struct stat st, fs::lstat(path));
    if ((st.st_mode & S_IFMT) != type) return Status::temp(path + " exists but has the wrong type");
    if (chown && ::lchown(path.c_str(), uid, gid) != 0)
      return Status::temp_errno("unable to chown " + path);
    if (::chmod(path.c_str(), mode) != 0) return Status::temp_errno("unable to chmod " + path);
    return Status::ok();
  }

  Status dir(const std::string& path, uid_t uid, gid_t gid, mode_t mode) {
    QMAIL_RETURN_IF_ERROR(fs::mkdir(path, 0700));
    return fix(path, uid, gid, mode, S_IFDIR);
  }

  Status split(const Layout& q, const char* sub, uid_t uid, gid_t gid, mode_t mode) {
    QMAIL_RETURN_IF_ERROR(dir(q.dir(sub), uid, gid, mode));
    for (std::uint64_t i = 0; i < kSplit; ++i)
      QMAIL_RETURN_IF_ERROR(dir(q.split_dir(sub, i), uid, gid, mode));
    return Status::ok();
  }

  // Creates `path` with `content` unless it exists (then it is left alone).
  Status file(const std::string& path, std::string_view content, uid_t uid, gid_t gid,
              mode_t mode) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      Fd f(fd);
      QMAIL_RETURN_IF_ERROR(io::write_all(f.get(), content));
      QMAIL_RETURN_IF_ERROR(fs::fsync(f));
    } else if (errno != EEXIST) {
      return Status::temp_errno("unable to create " + path);
    }
    return fix(path, uid, gid, mode, S_IFREG);
  }

  Status fifo(const std::string& path, uid_t uid, gid_t gid, mode_t mode) {
    if (::mkfifo(path.c_str(), 0600) != 0 && errno != EEXIST)
      return Status::temp_errno("unable to create fifo " + path);
    return fix(path, uid, gid, mode, S_IFIFO);
  }
};

}  // namespace

Status make_queue(const Layout& q, const QueueOwners& o, bool root_mode) {
  QueueOwners w = o;
  if (!root_mode) w.qmails = w.qmailr = w.qmailq;
  Maker m{root_mode || ::geteuid() == 0};
  const gid_t g = w.qmail;
  QMAIL_RETURN_IF_ERROR(m.dir(q.root(), w.qmailq, g, 0750));
  QMAIL_RETURN_IF_ERROR(m.dir(q.dir("pid"), w.qmailq, g, 0700));
  QMAIL_RETURN_IF_ERROR(m.dir(q.dir("intd"), w.qmailq, g, 0700));
  QMAIL_RETURN_IF_ERROR(m.dir(q.dir("todo"), w.qmailq, g, 0750));
  QMAIL_RETURN_IF_ERROR(m.dir(q.dir("bounce"), w.qmails, g, 0700));
  QMAIL_RETURN_IF_ERROR(m.split(q, "mess", w.qmailq, g, 0750));
  QMAIL_RETURN_IF_ERROR(m.split(q, "info", w.qmails, g, 0700));
  QMAIL_RETURN_IF_ERROR(m.split(q, "local", w.qmails, g, 0700));
  QMAIL_RETURN_IF_ERROR(m.split(q, "remote", w.qmails, g, 0700));
  QMAIL_RETURN_IF_ERROR(m.dir(q.dir("lock"), w.qmailq, g, 0750));
  QMAIL_RETURN_IF_ERROR(
      m.file(q.dir("lock/tcpto"), std::string(kTcptoSize, '\0'), w.qmailr, g, 0644));
  QMAIL_RETURN_IF_ERROR(m.file(q.sendmutex(), "", w.qmails, g, 0600));
  QMAIL_RETURN_IF_ERROR(m.fifo(q.trigger(), w.qmails, g, 0622));
  // Make the new names durable: setup may be followed by a power cut too.
  for (const char* d : {"", "/lock", "/mess", "/info", "/local", "/remote"})
    QMAIL_RETURN_IF_ERROR(fs::fsync_dir(q.root() + d));
  return fs::fsync_dir(fs::dirname(q.root()));
}

Status make_queue(const Layout& q, uid_t owner, gid_t group, bool root_mode) {
  QueueOwners o{owner, owner, owner, group};
  if (root_mode) {
    struct passwd* s = ::getpwnam("qmails");
    if (!s) return Status::temp("user qmails does not exist");
    o.qmails = s->pw_uid;
    struct passwd* r = ::getpwnam("qmailr");
    if (!r) return Status::temp("user qmailr does not exist");
    o.qmailr = r->pw_uid;
  }
  return make_queue(q, o, root_mode);
}

}  // namespace qmail::queue
