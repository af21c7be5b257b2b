#include "users/users.h"

#include <cdb.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <functional>
#include <memory>
#include <set>

#include "base/scope_guard.h"
#include "base/strings.h"
#include "cdb/reader.h"
#include "fs/fs.h"

namespace qmail::users {

namespace {

// uid_t and gid_t are 32 bits; (uid_t)-1 means "no change" to chown(2).
constexpr std::uint64_t kMaxId = 0xfffffffeu;

Status bad_line(int lineno, std::string_view why) {
  return Status::perm("line " + std::to_string(lineno) + ": " + std::string(why));
}

std::string encode(const Entry& e) {
  std::string v;
  for (const std::string& f :
       {e.user, std::to_string(e.uid), std::to_string(e.gid), e.homedir, e.dash, e.ext}) {
    v += f;
    v += '\0';
  }
  return v;
}

Result<Entry> decode(std::string_view v) {
  auto corrupt = [] { return Status::temp("users/cdb is corrupt: run qmail-newu (#4.3.0)"); };
  if (v.empty() || v.back() != '\0') return corrupt();
  v.remove_suffix(1);
  auto f = str::split(v, '\0');
  if (f.size() != 6) return corrupt();
  auto uid = str::parse_uint(f[1], kMaxId);
  auto gid = str::parse_uint(f[2], kMaxId);
  if (!uid || !gid) return corrupt();
  Entry e;
  e.user = f[0];
  e.uid = static_cast<uid_t>(*uid);
  e.gid = static_cast<gid_t>(*gid);
  e.homedir = f[3];
  e.dash = f[4];
  e.ext = f[5];
  return e;
}

}  // namespace

Result<std::vector<AssignLine>> parse_assign(std::string_view text) {
  std::vector<AssignLine> out;
  std::size_t pos = 0;
  for (int lineno = 1;; ++lineno) {
    if (pos >= text.size()) return bad_line(lineno, "missing final line \".\"");
    std::size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    // qmail-users(5): the file ends with a line containing a single dot.
    if (!line.empty() && line[0] == '.') return out;
    if (nl == std::string_view::npos) return bad_line(lineno, "missing final line \".\"");
    if (line.find('\0') != std::string_view::npos) return bad_line(lineno, "contains NUL");
    if (line.empty() || (line[0] != '=' && line[0] != '+'))
      return bad_line(lineno, "does not begin with = or +");
    auto f = str::split(line.substr(1), ':');
    // address:user:uid:gid:homedir:dash:ext: is seven ':'-terminated fields.
    if (f.size() < 8) return bad_line(lineno, "has fewer than seven fields");
    auto uid = str::parse_uint(f[2], kMaxId);
    if (!uid) return bad_line(lineno, "uid is not a number");
    auto gid = str::parse_uint(f[3], kMaxId);
    if (!gid) return bad_line(lineno, "gid is not a number");
    if (f[4].empty() || f[4][0] != '/') return bad_line(lineno, "homedir is not absolute");
    AssignLine a;
    a.wildcard = line[0] == '+';
    a.address = f[0];
    a.entry.user = f[1];
    a.entry.uid = static_cast<uid_t>(*uid);
    a.entry.gid = static_cast<gid_t>(*gid);
    a.entry.homedir = f[4];
    a.entry.dash = f[5];
    a.entry.ext = f[6];
    out.push_back(std::move(a));
  }
}

std::string format_assign(const AssignLine& a) {
  const Entry& e = a.entry;
  std::string s(1, a.wildcard ? '+' : '=');
  for (const std::string& f : {a.address, e.user, std::to_string(e.uid), std::to_string(e.gid),
                               e.homedir, e.dash, e.ext}) {
    s += f;
    s += ':';
  }
  return s;
}

Status write_cdb(const std::string& cdb_path, const std::vector<AssignLine>& lines) {
  std::string tmp = cdb_path + ".tmp";
  QMAIL_ASSIGN_OR_RETURN(Fd fd, fs::open_trunc(tmp, 0644));
  ScopeGuard drop_tmp([&] { (void)fs::unlink(tmp); });
  // Readable by qmail-lspawn whatever the umask.
  if (::fchmod(fd.get(), 0644) != 0) return Status::temp_errno("unable to chmod " + tmp);

  struct cdb_make cm;
  if (::cdb_make_start(&cm, fd.get()) != 0) return Status::temp_errno("unable to write " + tmp);
  std::set<std::string> seen;
  std::set<std::size_t, std::greater<>> lengths;
  bool failed = false;
  int err = 0;
  for (const AssignLine& a : lines) {
    std::string key(1, a.wildcard ? '+' : '=');
    key += str::lower(a.address);
    // qmail-users(5): of several assignments for one address the first wins.
    if (!seen.insert(key).second) continue;
    if (a.wildcard) lengths.insert(a.address.size());
    std::string value = encode(a.entry);
    if (::cdb_make_add(&cm, key.data(), static_cast<unsigned>(key.size()), value.data(),
                       static_cast<unsigned>(value.size())) != 0) {
      failed = true;
      err = errno;
      break;
    }
  }
  if (!failed) {
    std::string lens;
    for (std::size_t n : lengths) lens += std::to_string(n) + ",";
    if (::cdb_make_add(&cm, "", 0, lens.data(), static_cast<unsigned>(lens.size())) != 0) {
      failed = true;
      err = errno;
    }
  }
  // cdb_make_finish also frees the table, so it runs even after a failure.
  if (::cdb_make_finish(&cm) != 0 && !failed) {
    failed = true;
    err = errno;
  }
  if (failed) return Status::temp_errno("unable to write " + tmp, err);
  QMAIL_RETURN_IF_ERROR(fs::fsync(fd));
  if (::close(fd.release()) != 0) return Status::temp_errno("unable to write " + tmp);
  // Crash before the rename: the old cdb stays. After it: the new one is
  // complete (fsynced above); the directory fsync makes the rename durable.
  QMAIL_RETURN_IF_ERROR(fs::rename(tmp, cdb_path));
  drop_tmp.cancel();
  return fs::fsync_dir(fs::dirname(cdb_path));
}

namespace {

// The open users/cdb, kept mapped across lookups while the file is the
// same: a stat per lookup instead of open, fstat, mmap, munmap and close
// (qmail-lspawn looks up every local delivery). qmail-newu replaces the
// file by a rename (a new inode); a file written over in place changes
// its size or modification time.
struct Cached {
  std::string path;
  struct stat st {};
  std::unique_ptr<cdb::Reader> reader;
};

// The reader for `path`, or null when it does not exist. Errors: temp.
Result<const cdb::Reader*> open_cached(const std::string& path) {
  static Cached cache;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    cache.reader.reset();
    if (errno == ENOENT) return static_cast<const cdb::Reader*>(nullptr);
    return Status::temp_errno("unable to stat " + path);
  }
  if (cache.reader && cache.path == path && fs::same_file(cache.st, st)) return cache.reader.get();
  cache.reader.reset();
  QMAIL_ASSIGN_OR_RETURN(auto reader, cdb::Reader::open(path));
  if (!reader) return static_cast<const cdb::Reader*>(nullptr);
  // What was mapped is the file stat saw unless it was replaced in
  // between; then the next lookup sees a difference and maps it again.
  cache.path = path;
  cache.st = st;
  cache.reader = std::move(reader);
  return cache.reader.get();
}

}  // namespace

Result<std::optional<Entry>> lookup(const std::string& cdb_path, std::string_view local) {
  QMAIL_ASSIGN_OR_RETURN(const cdb::Reader* reader, open_cached(cdb_path));
  // Callers fall back to qmail-getpw on ENOENT (users.h).
  if (!reader) return Status::temp_errno("unable to open " + cdb_path, ENOENT);
  const cdb::Reader& cdb = *reader;

  std::string key = "=" + str::lower(local);
  QMAIL_ASSIGN_OR_RETURN(auto exact, cdb.find(key));
  if (exact) {
    QMAIL_ASSIGN_OR_RETURN(Entry e, decode(*exact));
    return std::optional<Entry>(std::move(e));
  }

  QMAIL_ASSIGN_OR_RETURN(auto lens, cdb.find(""));
  if (!lens) return std::optional<Entry>();
  key[0] = '+';
  std::string_view rest = *lens;
  while (!rest.empty()) {
    std::size_t comma = rest.find(',');
    if (comma == std::string_view::npos)
      return Status::temp("users/cdb is corrupt: run qmail-newu (#4.3.0)");
    auto n = str::parse_uint(rest.substr(0, comma));
    if (!n) return Status::temp("users/cdb is corrupt: run qmail-newu (#4.3.0)");
    rest.remove_prefix(comma + 1);
    if (*n > local.size()) continue;
    QMAIL_ASSIGN_OR_RETURN(auto wild, cdb.find(std::string_view(key).substr(0, 1 + *n)));
    if (!wild) continue;
    QMAIL_ASSIGN_OR_RETURN(Entry e, decode(*wild));
    // qmail-users(5): +loc:...:pre: means =locext:...:preext: for every ext.
    e.ext += local.substr(*n);
    return std::optional<Entry>(std::move(e));
  }
  return std::optional<Entry>();
}

Status newu(const std::string& home_dir) {
  std::string assign = home_dir + "/users/assign";
  auto text = fs::read_file(assign, kMaxAssign);
  if (!text.is_ok()) return Status::temp("unable to read users/assign: " + text.status().message());
  auto lines = parse_assign(*text);
  if (!lines.is_ok())
    return Status::perm("bad format in users/assign: " + lines.status().message() +
                        "; users/cdb left unchanged");
  Status s = write_cdb(home_dir + "/users/cdb", *lines);
  if (!s.is_ok()) return Status::temp(s.message() + "; users/cdb left unchanged");
  return Status::ok();
}

}  // namespace qmail::users
