#include "local/maildir2mbox.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <string_view>
#include <vector>

#include "base/scope_guard.h"
#include "fs/fs.h"
#include "io/fd.h"
#include "io/io.h"
#include "local/mbox.h"
#include "local/message.h"

namespace qmail::maildir {

namespace {

struct Entry {
  std::string path;
  std::string name;
  std::time_t mtime;
};

Status list_messages(const std::string& dir, std::vector<Entry>& out) {
  QMAIL_ASSIGN_OR_RETURN(std::vector<std::string> names, fs::list_dir(dir));
  for (const std::string& n : names) {
    if (n.empty() || n[0] == '.') continue;
    std::string p = dir + "/" + n;
    struct stat st;
    if (::stat(p.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;  // a reader removed it meanwhile
      return Status::temp_errno("unable to stat " + p);
    }
    if (!S_ISREG(st.st_mode)) continue;
    out.push_back({p, n, st.st_mtime});
  }
  return Status::ok();
}

void clean_tmp(const std::string& dir) {
  auto names = fs::list_dir(dir);
  if (!names.is_ok()) return;
  std::time_t now = std::time(nullptr);
  for (const std::string& n : *names) {
    std::string p = dir + "/" + n;
    struct stat st;
    if (::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        now - st.st_atime > kTmpMaxAgeSeconds) {
      ::unlink(p.c_str());
    }
  }
}

// The envelope sender recorded in a first "Return-Path: <x>" line, if any.
std::string return_path(int fd) {
  char buf[1024];
  ssize_t n = ::pread(fd, buf, sizeof buf, 0);
  if (n <= 0) return "";
  std::string_view head(buf, static_cast<std::size_t>(n));
  static constexpr std::string_view kRp = "Return-Path: <";
  if (!head.starts_with(kRp)) return "";
  std::size_t end = head.find(">\n", kRp.size());
  if (end == std::string_view::npos) return "";
  return std::string(head.substr(kRp.size(), end - kRp.size()));
}

Status copy_fd(int from, io::Writer& w) {
  return local::for_each_chunk(from, [&](std::string_view c) { return w.put(c); });
}

}  // namespace

Result<std::size_t> to_mbox(const std::string& maildir, const std::string& mail,
                            const std::string& mailtmp) {
  clean_tmp(maildir + "/tmp");
  std::vector<Entry> msgs;
  QMAIL_RETURN_IF_ERROR(list_messages(maildir + "/new", msgs));
  QMAIL_RETURN_IF_ERROR(list_messages(maildir + "/cur", msgs));
  if (msgs.empty()) return std::size_t{0};
  std::sort(msgs.begin(), msgs.end(), [](const Entry& a, const Entry& b) {
    return a.mtime != b.mtime ? a.mtime < b.mtime : a.name < b.name;
  });

  Fd mfd(::open(mail.c_str(), O_RDWR | O_CREAT | O_NOCTTY | O_CLOEXEC, 0600));
  if (!mfd.valid()) return Status::temp_errno("unable to open " + mail);
  QMAIL_RETURN_IF_ERROR(mbox::lock(mfd.get(), mbox::kLockTimeoutSeconds));

  Fd tfd(::open(mailtmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOCTTY | O_CLOEXEC, 0600));
  if (!tfd.valid()) return Status::temp_errno("unable to open " + mailtmp);
  // Until the rename, MAIL and the maildir are untouched.
  ScopeGuard drop_tmp([&] { ::unlink(mailtmp.c_str()); });
  io::Writer w(tfd.get());
  QMAIL_RETURN_IF_ERROR(copy_fd(mfd.get(), w));
  for (const Entry& e : msgs) {
    Fd fd(::open(e.path.c_str(), O_RDONLY | O_NOCTTY | O_CLOEXEC));
    if (!fd.valid()) return Status::temp_errno("unable to open " + e.path);
    QMAIL_RETURN_IF_ERROR(w.put(local::ufline(return_path(fd.get()), e.mtime)));
    local::FromQuoter q;
    std::string buf;
    QMAIL_RETURN_IF_ERROR(local::for_each_chunk(fd.get(), [&](std::string_view c) {
      buf.clear();
      q.put(c, buf);
      return w.put(buf);
    }));
    buf.clear();
    q.finish(buf);
    buf += q.partial_last_line() ? "\n\n" : "\n";
    QMAIL_RETURN_IF_ERROR(w.put(buf));
  }
  QMAIL_RETURN_IF_ERROR(w.flush());
  QMAIL_RETURN_IF_ERROR(fs::fsync(tfd));
  if (::close(tfd.release()) != 0) return Status::temp_errno("unable to close " + mailtmp);
  QMAIL_RETURN_IF_ERROR(fs::rename(mailtmp, mail));
  drop_tmp.cancel();
  QMAIL_RETURN_IF_ERROR(fs::fsync_dir(fs::dirname(mail)));
  // Only now, with MAIL durable, may the messages go.
  for (const Entry& e : msgs) QMAIL_RETURN_IF_ERROR(fs::unlink(e.path));
  return msgs.size();
}

}  // namespace qmail::maildir
