#include "home/home.h"

#include <grp.h>
#include <pwd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <map>

#include "base/strings.h"
#include "cdb/reader.h"
#include "fs/fs.h"

#ifndef QMAIL_DEFAULT_HOME
#define QMAIL_DEFAULT_HOME "/var/qmail"
#endif

namespace qmail::home {

const char* compiled_default() { return QMAIL_DEFAULT_HOME; }

bool is_setugid() { return ::getuid() != ::geteuid() || ::getgid() != ::getegid(); }

std::string home_of_executable() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0 || static_cast<std::size_t>(n) >= sizeof buf - 1) return "";
  std::string exe(buf, static_cast<std::size_t>(n));
  std::string bin = fs::dirname(exe);
  if (bin.size() < 4 || bin.compare(bin.size() - 4, 4, "/bin") != 0) return "";
  std::string home = bin.substr(0, bin.size() - 4);
  if (home.empty()) return "";
  // Only a directory qmail-setup made: it has queue/ and control/.
  struct stat st;
  if (::stat((home + "/queue").c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return "";
  if (::stat((home + "/control").c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return "";
  return home;
}

const std::string& dir() {
  static const std::string d = [] {
    if (!is_setugid()) {
      const char* e = std::getenv("QMAILHOME");
      if (e && *e) return std::string(e);
    }
    // A program run from HOME/bin belongs to that home. This is also how a
    // setuid qmail-queue finds its home without trusting the caller's
    // environment: the path of the running executable is chosen by whoever
    // installed it (the kernel's protected_hardlinks keeps users from
    // linking a setuid program into a directory of their own).
    std::string exe_home = home_of_executable();
    if (!exe_home.empty()) return exe_home;
    return std::string(QMAIL_DEFAULT_HOME);
  }();
  return d;
}

std::string path(std::string_view rel) {
  std::string p = dir();
  p += '/';
  p += rel;
  return p;
}

Result<Ids> load_ids() {
  std::map<std::string, std::pair<long, long>, std::less<>> file;
  auto content = fs::read_file(path("users/ids"), 1 << 20);
  if (content.is_ok()) {
    for (auto line : str::split(*content, '\n')) {
      auto f = str::split(line, ':');
      if (f.size() < 3) continue;
      auto u = str::parse_uint(f[1], 0x7fffffff);
      auto g = str::parse_uint(f[2], 0x7fffffff);
      if (!u || !g) return Status::temp("bad line in users/ids");
      file[std::string(f[0])] = {static_cast<long>(*u), static_cast<long>(*g)};
    }
  } else if (content.status().err() != ENOENT) {
    return Status::temp(content.status().message());
  }
  bool root = ::geteuid() == 0 || ::getuid() == 0;
  bool missing = false;
  auto uid = [&](const char* name) -> uid_t {
    if (auto it = file.find(name); it != file.end()) return static_cast<uid_t>(it->second.first);
    if (struct passwd* pw = ::getpwnam(name)) return pw->pw_uid;
    if (!root) return ::getuid();
    missing = true;
    return 0;
  };
  auto gid = [&](const char* name) -> gid_t {
    if (auto it = file.find(name); it != file.end()) return static_cast<gid_t>(it->second.second);
    if (struct group* gr = ::getgrnam(name)) return gr->gr_gid;
    if (!root) return ::getgid();
    missing = true;
    return 0;
  };
  Ids ids{};
  ids.alias = uid("alias");
  ids.qmaild = uid("qmaild");
  ids.qmaill = uid("qmaill");
  ids.qmailp = uid("qmailp");
  ids.qmailq = uid("qmailq");
  ids.qmailr = uid("qmailr");
  ids.qmails = uid("qmails");
  ids.root = 0;
  ids.qmail = gid("qmail");
  ids.nofiles = gid("nofiles");
  if (missing) return Status::temp("qmail users are missing: run qmail-setup (#4.3.0)");
  ids.single_user = ids.qmailq == ids.qmails && ids.qmails == ids.alias;
  return ids;
}

}  // namespace qmail::home

namespace qmail::control {

namespace {
std::string strip_trailing(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return std::string(s);
}

// enable_cache()'s state: the inotify descriptor (-1: off) and the files
// read since the last change (nullopt: the file does not exist).
struct Cache {
  int fd = -1;      // stays open once made (the caller keeps it)
  bool on = false;  // off again when the watch is lost
  std::uint64_t generation = 0;
  std::map<std::string, std::optional<std::string>, std::less<>> files;
  std::map<std::string, std::shared_ptr<const cdb::Reader>, std::less<>> cdbs;  // null: absent
};
Cache& cache() {
  static Cache c;
  return c;
}

// What the cache may keep: not a symbolic link (a change of its target
// would not be seen), not a file in a subdirectory (the watch is on
// control/ alone).
bool keepable(const std::string& path, std::string_view name) {
  struct stat st;
  bool link = ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
  return !link && name.find('/') == std::string_view::npos;
}

Result<std::optional<std::string>> read_raw(std::string_view name) {
  Cache& c = cache();
  if (c.on) {
    auto it = c.files.find(name);
    if (it != c.files.end()) return it->second;
  }
  std::string path = home::path("control/" + std::string(name));
  auto r = fs::read_file(path, kMaxControlFile);
  std::optional<std::string> content;
  if (r.is_ok()) {
    content = std::move(*r);
  } else if (r.status().err() != ENOENT) {
    return Status::temp("unable to read control/" + std::string(name) + ": " +
                        r.status().message() + " (#4.3.0)");
  }
  if (c.on) {
    // Kept unless a symbolic link (checked after the read: a link made in
    // between is an event that revalidate_cache() sees), nor a file in a
    // subdirectory (the watch is on control/ alone).
    if (keepable(path, name)) c.files.emplace(std::string(name), content);
  }
  return content;
}
}  // namespace

Result<std::shared_ptr<const cdb::Reader>> read_cdb(std::string_view name) {
  Cache& c = cache();
  if (c.on) {
    auto it = c.cdbs.find(name);
    if (it != c.cdbs.end()) return it->second;
  }
  std::string path = home::path("control/" + std::string(name));
  QMAIL_ASSIGN_OR_RETURN(std::shared_ptr<const cdb::Reader> r, cdb::Reader::open(path));
  if (c.on && keepable(path, name)) c.cdbs.emplace(std::string(name), r);
  return r;
}

int enable_cache() {
  Cache& c = cache();
  if (c.fd >= 0) return c.fd;
  int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return -1;
  // Follows control/ itself when it is a symbolic link (qmail's
  // /var/qmail/control -> /etc/qmail): the directory where the files are.
  constexpr std::uint32_t kEvents = IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE |
                                    IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF |
                                    IN_MOVE_SELF;
  if (::inotify_add_watch(fd, home::path("control").c_str(), kEvents) < 0) {
    ::close(fd);
    return -1;
  }
  c.fd = fd;
  c.on = true;
  c.files.clear();  // anything read before the watch may be stale
  c.cdbs.clear();
  ++c.generation;
  return fd;
}

void revalidate_cache() {
  Cache& c = cache();
  if (!c.on) return;
  alignas(struct inotify_event) char buf[4096];
  bool changed = false;
  for (;;) {
    ssize_t n = ::read(c.fd, buf, sizeof buf);
    if (n > 0) {
      changed = true;
      for (ssize_t off = 0; off + static_cast<ssize_t>(sizeof(struct inotify_event)) <= n;) {
        auto* e = reinterpret_cast<struct inotify_event*>(buf + off);
        // control/ itself went away or moved: the watch no longer sees it.
        if (e->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) c.on = false;
        off += static_cast<ssize_t>(sizeof(struct inotify_event) + e->len);
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) {
      c.on = false;  // the watch is unusable: no cache from now on
      changed = true;
    }
    break;
  }
  if (changed) {
    c.files.clear();
    c.cdbs.clear();
    ++c.generation;
  }
}

std::uint64_t cache_generation() {
  Cache& c = cache();
  if (!c.on) return ++c.generation;
  return c.generation;
}

Result<std::optional<std::string>> read_line(std::string_view name) {
  QMAIL_ASSIGN_OR_RETURN(auto raw, read_raw(name));
  if (!raw) return std::optional<std::string>();
  std::string_view s(*raw);
  s = s.substr(0, s.find('\n'));
  return std::optional<std::string>(strip_trailing(s));
}

Result<std::string> read_line_or(std::string_view name, std::string_view def) {
  QMAIL_ASSIGN_OR_RETURN(auto v, read_line(name));
  if (!v || v->empty()) return std::string(def);
  return *v;
}

Result<std::optional<std::vector<std::string>>> read_lines_if_any(std::string_view name) {
  QMAIL_ASSIGN_OR_RETURN(auto raw, read_raw(name));
  if (!raw) return std::optional<std::vector<std::string>>();
  std::vector<std::string> out;
  for (auto line : str::split(*raw, '\n')) {
    std::string l = strip_trailing(line);
    if (l.empty() || l[0] == '#') continue;
    out.push_back(std::move(l));
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

Result<std::vector<std::string>> read_lines(std::string_view name) {
  QMAIL_ASSIGN_OR_RETURN(auto lines, read_lines_if_any(name));
  return lines ? std::move(*lines) : std::vector<std::string>();
}

Result<std::uint64_t> read_uint(std::string_view name, std::uint64_t def) {
  QMAIL_ASSIGN_OR_RETURN(auto v, read_line(name));
  if (!v || v->empty()) return def;
  auto n = str::parse_uint(str::trim(*v));
  if (!n) return Status::temp("control/" + std::string(name) + " is not a number (#4.3.0)");
  return *n;
}

Result<std::optional<std::string>> me() { return read_line("me"); }

Result<std::string> read_line_or_me(std::string_view name, std::string_view fallback) {
  QMAIL_ASSIGN_OR_RETURN(auto v, read_line(name));
  if (v && !v->empty()) return *v;
  QMAIL_ASSIGN_OR_RETURN(auto m, me());
  if (m && !m->empty()) return *m;
  return std::string(fallback);
}

}  // namespace qmail::control
