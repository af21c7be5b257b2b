#include "setup/setup.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <functional>
#include <vector>

#include "base/scope_guard.h"
#include "fs/fs.h"
#include "io/io.h"
#include "queue/layout.h"
#include "queue/make_queue.h"
#include "users/users.h"

extern char** environ;

namespace qmail::setup {

namespace {

constexpr std::array<std::string_view, 46> kPrograms = {
    "qmail-queue",  "qmail-send",   "qmail-start",  "qmail-lspawn",   "qmail-rspawn",
    "qmail-clean",  "qmail-local",  "qmail-getpw",  "qmail-newu",     "qmail-pw2u",
    "qmail-inject", "sendmail",     "qmail-qread",  "qmail-qstat",    "qmail-showctl",
    "qmail-setup",  "config-fast",  "maildirmake",  "maildir2mbox",   "preline",
    "forward",      "condredirect", "bouncesaying", "except",         "qbiff",
    "qreceipt",     "datemail",     "predate",      "qmail-remote",   "qmail-tcpok",
    "qmail-tcpto",  "qmail-smtpd",  "qmail-newmrh", "qmail-popup",    "qmail-pop3d",
    "qmail-qmtpd",  "qmail-qmqpd",  "qmail-qmqpc",  "splogger",       "tcp-env",
    "mailsubj",     "maildirwatch", "qmail-tcpsrv", "qmail-tcprules", "qmail-newrcpt",
    "qmail-idle",
};

// qmail's hier.c: daemons are not for users to run; root's programs are
// for root alone.
mode_t program_mode(std::string_view name) {
  if (name == "qmail-lspawn" || name == "qmail-start" || name == "qmail-newu" ||
      name == "qmail-newmrh")
    return 0700;
  if (name == "qmail-getpw" || name == "qmail-local" || name == "qmail-remote" ||
      name == "qmail-rspawn" || name == "qmail-clean" || name == "qmail-send" ||
      name == "qmail-pw2u" || name == "qmail-popup" || name == "splogger" || name == "qmail-idle")
    return 0711;
  return 0755;
}

std::string join(const std::string& dir, std::string_view name) {
  return dir + "/" + std::string(name);
}

bool lexists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// Gives `path` (never following a symlink) its owner and mode. chown
// comes first because it clears set-id bits.
Status fix(const std::string& path, uid_t uid, gid_t gid, mode_t mode) {
  QMAIL_ASSIGN_OR_RETURN(struct stat st, fs::lstat(path));
  if (S_ISLNK(st.st_mode)) return Status::temp(path + " is a symbolic link; remove it");
  if (st.st_uid != uid || st.st_gid != gid) {
    if (::lchown(path.c_str(), uid, gid) != 0)
      return Status::temp_errno("unable to give " + path + " to uid " + std::to_string(uid) +
                                " gid " + std::to_string(gid) +
                                " (run qmail-setup as root or as the home's owner)");
  }
  if ((st.st_mode & 07777) != mode) {
    if (::chmod(path.c_str(), mode) != 0) return Status::temp_errno("unable to chmod " + path);
  }
  return Status::ok();
}

Status ensure_dir(const std::string& path, uid_t uid, gid_t gid, mode_t mode) {
  if (::mkdir(path.c_str(), 0700) == 0) {
    QMAIL_RETURN_IF_ERROR(fs::fsync_dir(fs::dirname(path)));
  } else if (errno != EEXIST) {
    return Status::temp_errno("unable to create directory " + path);
  }
  QMAIL_ASSIGN_OR_RETURN(struct stat st, fs::lstat(path));
  if (!S_ISDIR(st.st_mode)) return Status::temp(path + " exists but is not a directory");
  return fix(path, uid, gid, mode);
}

// Writes `path` through a temporary file that `fill` writes and that gets
// its final owner, mode (and `mtime`, if given) before the rename, so
// `path` is never seen partial or wrongly owned.
Status install_with(const std::string& path, uid_t uid, gid_t gid, mode_t mode,
                    const std::function<Status(int fd)>& fill,
                    const struct timespec* mtime = nullptr) {
  std::string tmp = fs::dirname(path) + "/.setup-tmp." + std::to_string(::getpid());
  QMAIL_ASSIGN_OR_RETURN(Fd fd, fs::open_trunc(tmp, 0600));
  ScopeGuard drop_tmp([&] { (void)fs::unlink(tmp); });
  QMAIL_RETURN_IF_ERROR(fill(fd.get()));
  if (::fchown(fd.get(), uid, gid) != 0) return Status::temp_errno("unable to chown " + tmp);
  if (::fchmod(fd.get(), mode) != 0) return Status::temp_errno("unable to chmod " + tmp);
  if (mtime) {
    struct timespec times[2] = {{0, UTIME_OMIT}, *mtime};
    if (::futimens(fd.get(), times) != 0)
      return Status::temp_errno("unable to set times of " + tmp);
  }
  QMAIL_RETURN_IF_ERROR(fs::fsync(fd));
  fd.reset();
  // Crash before the rename leaves a stray temporary file (overwritten by
  // the next run); after it, `path` is complete.
  QMAIL_RETURN_IF_ERROR(fs::rename(tmp, path));
  drop_tmp.cancel();
  return Status::ok();
}

Status install_file(const std::string& path, std::string_view data, uid_t uid, gid_t gid,
                    mode_t mode) {
  return install_with(path, uid, gid, mode, [&](int fd) { return io::write_all(fd, data); });
}

// Copies all of `in` (of `size` bytes) to `out`, in the kernel when it can.
Status copy_fd(int in, int out, off_t size, const std::string& what) {
  off_t done = 0;
  bool kernel = true;
  std::vector<char> buf;
  while (done < size) {
    ssize_t n;
    if (kernel) {
      n = ::copy_file_range(in, nullptr, out, nullptr, static_cast<std::size_t>(size - done), 0);
      if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) {
        kernel = false;
        buf.resize(1 << 16);
        continue;
      }
    } else {
      n = ::read(in, buf.data(), buf.size());
      if (n > 0) QMAIL_RETURN_IF_ERROR(io::write_all(out, std::string_view(buf.data(), n)));
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::temp_errno("unable to copy " + what);
    if (n == 0) return Status::temp("unable to copy " + what + ": it shrank while copying");
    done += n;
  }
  return Status::ok();
}

// Copies `src` to `dst` unless `dst` already has the same size and
// modification time (copies get the source's mtime); then repairs its
// owner and mode.
Status copy_file(const std::string& src, const std::string& dst, uid_t uid, gid_t gid, mode_t mode,
                 bool* changed) {
  QMAIL_ASSIGN_OR_RETURN(Fd in, fs::open_read(src));
  struct stat s;
  if (::fstat(in.get(), &s) != 0) return Status::temp_errno("unable to stat " + src);
  struct stat d;
  if (::lstat(dst.c_str(), &d) == 0 && S_ISREG(d.st_mode) && d.st_size == s.st_size &&
      d.st_mtim.tv_sec == s.st_mtim.tv_sec && d.st_mtim.tv_nsec == s.st_mtim.tv_nsec)
    return fix(dst, uid, gid, mode);
  *changed = true;
  return install_with(
      dst, uid, gid, mode, [&](int out) { return copy_fd(in.get(), out, s.st_size, src); },
      &s.st_mtim);
}

// Creates `path` with `data` if it does not exist; returns whether it did.
Result<bool> create_file(const std::string& path, std::string_view data, uid_t uid, gid_t gid,
                         mode_t mode) {
  if (lexists(path)) return false;
  QMAIL_RETURN_IF_ERROR(install_file(path, data, uid, gid, mode));
  QMAIL_RETURN_IF_ERROR(fs::fsync_dir(fs::dirname(path)));
  return true;
}

bool same_dir(const std::string& a, const std::string& b) {
  struct stat sa, sb;
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

std::string find_tool(const char* name) {
  for (const char* dir : {"/usr/sbin", "/sbin", "/usr/bin", "/bin"}) {
    std::string p = std::string(dir) + "/" + name;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

Status run_tool(std::vector<std::string> argv) {
  std::string path = find_tool(argv[0].c_str());
  if (path.empty())
    return Status::temp(argv[0] +
                        " not found: create qmail's users and groups as INSTALL.ids "
                        "says, then run qmail-setup again");
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid;
  int err = ::posix_spawn(&pid, path.c_str(), nullptr, nullptr, args.data(), environ);
  if (err != 0) return Status::temp_errno("unable to run " + path, err);
  int wstat;
  while (::waitpid(pid, &wstat, 0) < 0) {
    if (errno != EINTR) return Status::temp_errno("waitpid");
  }
  if (!WIFEXITED(wstat) || WEXITSTATUS(wstat) != 0) {
    std::string cmd;
    for (const std::string& a : argv) cmd += " " + a;
    return Status::temp("command failed:" + cmd);
  }
  return Status::ok();
}

Result<gid_t> system_group(const std::string& name, bool create) {
  if (struct group* gr = ::getgrnam(name.c_str())) return gr->gr_gid;
  if (!create) return Status::temp("group " + name + " does not exist (see INSTALL.ids)");
  QMAIL_RETURN_IF_ERROR(run_tool({"groupadd", "-r", name}));
  if (struct group* gr = ::getgrnam(name.c_str())) return gr->gr_gid;
  return Status::temp("group " + name + " is still missing after groupadd");
}

Result<Account> system_user(const std::string& name, gid_t gid, const std::string& homedir,
                            bool create) {
  auto found = [&](struct passwd* pw) { return Account{name, pw->pw_uid, pw->pw_gid}; };
  if (struct passwd* pw = ::getpwnam(name.c_str())) return found(pw);
  if (!create) return Status::temp("user " + name + " does not exist (see INSTALL.ids)");
  std::string shell = find_tool("nologin");
  if (shell.empty()) shell = "/bin/false";
  QMAIL_RETURN_IF_ERROR(run_tool(
      {"useradd", "-r", "-M", "-g", std::to_string(gid), "-d", homedir, "-s", shell, name}));
  if (struct passwd* pw = ::getpwnam(name.c_str())) return found(pw);
  return Status::temp("user " + name + " is still missing after useradd");
}

Status install_programs(const Options& opt, const Owners& o, Warnings* warnings) {
  std::string bin = opt.home + "/bin";
  if (same_dir(opt.exe_dir, bin)) {
    // Repairing a home with its own qmail-setup: nothing to copy.
    for (std::string_view name : kPrograms) {
      std::string dst = join(bin, name);
      if (!lexists(dst)) continue;
      bool setuid_queue = name == "qmail-queue" && !o.single_user;
      QMAIL_RETURN_IF_ERROR(fix(dst, setuid_queue ? o.qmailq.uid : o.root.uid, o.qmail,
                                setuid_queue ? 04711 : program_mode(name)));
    }
    return Status::ok();
  }
  std::string missing;
  bool changed = false;
  for (std::string_view name : kPrograms) {
    std::string src = join(opt.exe_dir, name);
    struct stat st;
    if (::stat(src.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || !(st.st_mode & 0111)) {
      missing += " " + std::string(name);
      continue;
    }
    // qmail-queue is the one setuid program (qmail's hier.c: qmailq, 4711).
    // In a single-user home it runs as the caller like everything else.
    bool setuid_queue = name == "qmail-queue" && !o.single_user;
    uid_t uid = setuid_queue ? o.qmailq.uid : o.root.uid;
    mode_t mode = setuid_queue ? 04711 : program_mode(name);
    QMAIL_RETURN_IF_ERROR(copy_file(src, join(bin, name), uid, o.qmail, mode, &changed));
  }
  if (changed) QMAIL_RETURN_IF_ERROR(fs::fsync_dir(bin));
  if (!missing.empty()) warnings->push_back("programs not found in " + opt.exe_dir + ":" + missing);
  return Status::ok();
}

Status install_man(const Options& opt, const Owners& o, Warnings* warnings) {
  std::string src_dir;
  for (const std::string& d : opt.man_dirs) {
    struct stat st;
    if (::stat(d.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      src_dir = d;
      break;
    }
  }
  if (src_dir.empty()) {
    std::string tried;
    for (const std::string& d : opt.man_dirs) tried += " " + d;
    warnings->push_back("no man pages installed: none of" + tried + " exists");
    return Status::ok();
  }
  QMAIL_ASSIGN_OR_RETURN(auto names, fs::list_dir(src_dir));
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    if (name.size() < 3 || name[0] == '.' || name[name.size() - 2] != '.') continue;
    char section = name.back();
    if (section < '1' || section > '9') continue;
    std::string src = join(src_dir, name);
    struct stat st;
    if (::stat(src.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    std::string dir = opt.home + "/man/man" + section;
    QMAIL_RETURN_IF_ERROR(ensure_dir(dir, o.root.uid, o.qmail, 0755));
    bool changed = false;
    QMAIL_RETURN_IF_ERROR(copy_file(src, join(dir, name), o.root.uid, o.qmail, 0644, &changed));
    if (changed) QMAIL_RETURN_IF_ERROR(fs::fsync_dir(dir));
  }
  return Status::ok();
}

Status install_users(const Options& opt, const Owners& o, Warnings* warnings) {
  std::string users = opt.home + "/users";
  QMAIL_RETURN_IF_ERROR(ensure_dir(users, o.root.uid, o.qmail, 0755));
  std::string ids = users + "/ids";
  auto old = fs::read_file(ids, 1 << 20);
  std::string want = format_ids(o);
  if (!old.is_ok() || *old != want) {
    QMAIL_RETURN_IF_ERROR(install_file(ids, want, o.root.uid, o.qmail, 0644));
    QMAIL_RETURN_IF_ERROR(fs::fsync_dir(users));
  }
  QMAIL_RETURN_IF_ERROR(fix(ids, o.root.uid, o.qmail, 0644));
  // An empty table: every address goes to qmail-getpw, which gives what no
  // account claims to alias (HOME/alias).
  QMAIL_RETURN_IF_ERROR(create_file(users + "/assign", ".\n", o.root.uid, o.qmail, 0644));
  Status s = users::newu(opt.home);
  if (s.is_perm()) {
    warnings->push_back(s.message());
  } else if (!s.is_ok()) {
    return s;
  }
  if (lexists(users + "/cdb"))
    QMAIL_RETURN_IF_ERROR(fix(users + "/cdb", o.root.uid, o.qmail, 0644));
  return Status::ok();
}

Status install_alias(const Options& opt, const Owners& o) {
  std::string alias = opt.home + "/alias";
  QMAIL_RETURN_IF_ERROR(ensure_dir(alias, o.alias.uid, o.qmail, 02755));
  QMAIL_RETURN_IF_ERROR(ensure_dir(alias + "/Maildir", o.alias.uid, o.alias.gid, 0700));
  for (const char* sub : {"tmp", "new", "cur"})
    QMAIL_RETURN_IF_ERROR(ensure_dir(alias + "/Maildir/" + sub, o.alias.uid, o.alias.gid, 0700));
  // qmail's INSTALL step 5 makes these empty (the default delivery); naming
  // ./Maildir/ keeps postmaster's mail in HOME/alias/Maildir whatever
  // qmail-start is given. Existing ones are the admin's and left alone.
  for (const char* name : {".qmail-postmaster", ".qmail-mailer-daemon", ".qmail-root"})
    QMAIL_RETURN_IF_ERROR(
        create_file(alias + "/" + name, "./Maildir/\n", o.root.uid, o.qmail, 0644));
  return Status::ok();
}

}  // namespace

std::span<const std::string_view> programs() { return kPrograms; }

Owners single_user_owners(const std::string& name, uid_t uid, gid_t gid) {
  Owners o;
  o.single_user = true;
  Account a{name, uid, gid};
  o.root = o.alias = o.qmaild = o.qmaill = o.qmailp = o.qmailq = o.qmailr = o.qmails = a;
  o.qmail = o.nofiles = gid;
  return o;
}

Result<Owners> system_owners(const std::string& home, bool create) {
  Owners o;
  o.single_user = false;
  o.root = Account{"root", 0, 0};
  // INSTALL.ids: nofiles for alias qmaild qmaill qmailp, qmail for qmailq
  // qmailr qmails; alias lives in HOME/alias, the rest in HOME.
  QMAIL_ASSIGN_OR_RETURN(o.nofiles, system_group("nofiles", create));
  QMAIL_ASSIGN_OR_RETURN(o.qmail, system_group("qmail", create));
  QMAIL_ASSIGN_OR_RETURN(o.alias, system_user("alias", o.nofiles, home + "/alias", create));
  QMAIL_ASSIGN_OR_RETURN(o.qmaild, system_user("qmaild", o.nofiles, home, create));
  QMAIL_ASSIGN_OR_RETURN(o.qmaill, system_user("qmaill", o.nofiles, home, create));
  QMAIL_ASSIGN_OR_RETURN(o.qmailp, system_user("qmailp", o.nofiles, home, create));
  QMAIL_ASSIGN_OR_RETURN(o.qmailq, system_user("qmailq", o.qmail, home, create));
  QMAIL_ASSIGN_OR_RETURN(o.qmailr, system_user("qmailr", o.qmail, home, create));
  QMAIL_ASSIGN_OR_RETURN(o.qmails, system_user("qmails", o.qmail, home, create));
  return o;
}

std::string format_ids(const Owners& o) {
  std::string s;
  for (const Account* a :
       {&o.alias, &o.qmaild, &o.qmaill, &o.qmailp, &o.qmailq, &o.qmailr, &o.qmails}) {
    std::string_view role = a == &o.alias    ? "alias"
                            : a == &o.qmaild ? "qmaild"
                            : a == &o.qmaill ? "qmaill"
                            : a == &o.qmailp ? "qmailp"
                            : a == &o.qmailq ? "qmailq"
                            : a == &o.qmailr ? "qmailr"
                                             : "qmails";
    s += std::string(role) + ":" + std::to_string(a->uid) + ":" + std::to_string(a->gid) + "\n";
  }
  s += "qmail:" + std::to_string(o.qmail) + ":" + std::to_string(o.qmail) + "\n";
  s += "nofiles:" + std::to_string(o.nofiles) + ":" + std::to_string(o.nofiles) + "\n";
  return s;
}

Status install(const Options& opt, const Owners& o, Warnings* warnings) {
  if (opt.home.empty() || opt.home[0] != '/') return Status::perm("home must be an absolute path");
  // Parents of the home are made as needed (mkdir -p), owned by the caller.
  for (std::size_t pos = 1; (pos = opt.home.find('/', pos)) != std::string::npos; ++pos) {
    std::string parent = opt.home.substr(0, pos);
    if (::mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST)
      return Status::temp_errno("unable to create directory " + parent);
  }
  const uid_t r = o.root.uid;
  const gid_t g = o.qmail;
  QMAIL_RETURN_IF_ERROR(ensure_dir(opt.home, r, g, 0755));
  for (const char* d : {"bin", "control", "man", "man/man1", "man/man5", "man/man7", "man/man8"})
    QMAIL_RETURN_IF_ERROR(ensure_dir(opt.home + "/" + d, r, g, 0755));
  QMAIL_RETURN_IF_ERROR(install_programs(opt, o, warnings));
  QMAIL_RETURN_IF_ERROR(install_man(opt, o, warnings));
  QMAIL_RETURN_IF_ERROR(install_users(opt, o, warnings));
  QMAIL_RETURN_IF_ERROR(install_alias(opt, o));
  QMAIL_RETURN_IF_ERROR(queue::make_queue(queue::Layout(opt.home + "/queue"),
                                          {o.qmailq.uid, o.qmails.uid, o.qmailr.uid, o.qmail},
                                          !o.single_user));
  return fs::fsync_dir(opt.home);
}

}  // namespace qmail::setup
