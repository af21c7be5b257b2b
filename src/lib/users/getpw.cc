#include "users/getpw.h"

#include <pwd.h>
#include <sys/stat.h>

#include <cerrno>

#include "base/strings.h"
#include "fs/fs.h"

namespace qmail::users {

namespace {

constexpr std::size_t kMaxUsersFile = 64 * 1024 * 1024;

bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }

// Lines of a users/ control-style file: trailing spaces and tabs removed,
// empty lines and '#' comments skipped.
std::vector<std::string> control_lines(std::string_view text) {
  std::vector<std::string> out;
  for (auto line : str::split(text, '\n')) {
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r'))
      line.remove_suffix(1);
    if (line.empty() || line[0] == '#') continue;
    out.emplace_back(line);
  }
  return out;
}

Result<std::optional<std::string>> read_optional(const std::string& path) {
  auto r = fs::read_file(path, kMaxUsersFile);
  if (r.is_ok()) return std::optional<std::string>(std::move(*r));
  if (r.status().err() == ENOENT) return std::optional<std::string>();
  return Status::temp("unable to read " + path + ": " + r.status().message());
}

}  // namespace

Result<std::optional<Entry>> find_system_user(const std::string& name) {
  errno = 0;
  struct passwd* pw = ::getpwnam(name.c_str());
  if (!pw) {
    // getpwnam(3): 0, ENOENT, ESRCH, EBADF or EPERM mean "no such name".
    int e = errno;
    if (e == 0 || e == ENOENT || e == ESRCH || e == EBADF || e == EPERM)
      return std::optional<Entry>();
    return Status::temp_errno("unable to look up user " + name, e);
  }
  if (pw->pw_uid == 0) return std::optional<Entry>();
  Entry e;
  e.user = pw->pw_name;
  e.uid = pw->pw_uid;
  e.gid = pw->pw_gid;
  e.homedir = pw->pw_dir;
  struct stat st;
  if (::stat(e.homedir.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR || err == EACCES || err == ELOOP || err == ENAMETOOLONG)
      return std::optional<Entry>();
    return Status::temp_errno("unable to stat " + e.homedir, err);
  }
  if (st.st_uid != e.uid) return std::optional<Entry>();
  return std::optional<Entry>(std::move(e));
}

Result<Entry> getpw(std::string_view local, const GetpwConfig& config, const FindUser& find) {
  if (config.system_users) {
    // qmail-getpw(8): the longest user name at the front of local, ending
    // at the end of local or before a BREAK.
    for (std::size_t n = local.size(); n > 0; --n) {
      if (n != local.size() && local[n] != kBreak) continue;
      if (n > kMaxUserName) continue;
      std::string name = str::lower(local.substr(0, n));
      std::optional<Entry> found;
      if (name == config.alias.user) {
        // This home's alias account: HOME/alias, whatever (and wherever)
        // its passwd entry's home is; several homes share the account.
        found = config.alias;
      } else {
        QMAIL_ASSIGN_OR_RETURN(found, find(name));
      }
      if (!found) continue;
      Entry e = std::move(*found);
      if (n == local.size()) {
        e.dash = "";
        e.ext = "";
      } else {
        e.dash = "-";
        e.ext = local.substr(n + 1);
      }
      return e;
    }
  }
  Entry e = config.alias;
  e.dash = "-";
  e.ext = local;
  return e;
}

Result<std::optional<uid_t>> stat_owner(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) return std::optional<uid_t>(st.st_uid);
  if (errno == ENOENT) return std::optional<uid_t>();
  return Status::temp_errno("unable to stat " + path);
}

Result<Pw2uFiles> read_pw2u_files(const std::string& users_dir) {
  Pw2uFiles f;
  QMAIL_ASSIGN_OR_RETURN(auto include, read_optional(users_dir + "/include"));
  if (include) {
    auto lines = control_lines(*include);
    f.include.emplace(lines.begin(), lines.end());
  }
  QMAIL_ASSIGN_OR_RETURN(auto exclude, read_optional(users_dir + "/exclude"));
  if (exclude) {
    auto lines = control_lines(*exclude);
    f.exclude.emplace(lines.begin(), lines.end());
  }
  QMAIL_ASSIGN_OR_RETURN(auto mailnames, read_optional(users_dir + "/mailnames"));
  if (mailnames) {
    f.mailnames.emplace();
    for (const std::string& line : control_lines(*mailnames)) {
      std::size_t colon = line.find(':');
      std::string user = line.substr(0, colon);
      std::string names = colon == std::string::npos ? "" : line.substr(colon + 1);
      // Like qmail's constmap: the first line for a user counts.
      f.mailnames->emplace(std::move(user), std::move(names));
    }
  }
  QMAIL_ASSIGN_OR_RETURN(f.subusers, read_optional(users_dir + "/subusers"));
  QMAIL_ASSIGN_OR_RETURN(f.append, read_optional(users_dir + "/append"));
  return f;
}

Result<std::string> pw2u(std::string_view passwd, const Pw2uOptions& opt, const Pw2uFiles& files,
                         const std::optional<Entry>& alias, const HomeOwner& owner) {
  const std::string dash = opt.slash ? "-/" : "-";
  std::string out;
  // user -> ":user:uid:gid:homedir:" for subusers.
  std::map<std::string, std::string> accounts;
  bool have_alias = false;

  for (auto line : str::split(passwd, '\n')) {
    if (line.find('\0') != std::string_view::npos) continue;
    // user:password:uid:gid:gecos:home:shell -- home must be ':'-terminated.
    auto f = str::split(line, ':');
    if (f.size() < 7) continue;
    std::string user(f[0]);
    auto uid = str::parse_uint(f[2], 0xfffffffeu);
    auto gid = str::parse_uint(f[3], 0xfffffffeu);
    if (!uid || !gid || *uid == 0) continue;
    std::string home(f[5]);
    bool is_alias = alias && user == alias->user;
    if (is_alias) home = alias->homedir;
    if (!opt.allow_upper) {
      bool upper = false;
      for (char c : user) upper = upper || is_upper(c);
      if (upper) continue;
    }
    if (files.include && !files.include->count(user)) continue;
    if (files.exclude && files.exclude->count(user)) continue;
    if (opt.home_strategy != 0) {
      QMAIL_ASSIGN_OR_RETURN(auto home_uid, owner(home));
      if (!home_uid) {
        if (opt.home_strategy == 1) return Status::temp("home directory " + home + " is missing");
        continue;
      }
      if (*home_uid != *uid) continue;
    }
    std::string uugh =
        ":" + user + ":" + std::to_string(*uid) + ":" + std::to_string(*gid) + ":" + home + ":";
    accounts.emplace(user, uugh);
    if (is_alias) {
      out += "+" + uugh + dash + "::\n";
      have_alias = true;
    }
    std::string names = user;
    if (files.mailnames) {
      auto it = files.mailnames->find(user);
      if (it != files.mailnames->end()) names = it->second;
    }
    for (auto name : str::split(names, ':')) {
      if (name.empty()) continue;
      out += "=" + std::string(name) + uugh + "::\n";
      if (opt.brk) out += "+" + std::string(name) + opt.brk + uugh + dash + "::\n";
    }
  }
  if (!have_alias) {
    if (!alias) return Status::temp("unable to find alias user");
    std::string uugh = ":" + alias->user + ":" + std::to_string(alias->uid) + ":" +
                       std::to_string(alias->gid) + ":" + alias->homedir + ":";
    accounts.emplace(alias->user, uugh);
    out += "+" + uugh + dash + "::\n";
  }

  if (files.subusers) {
    // sub:user:pre:
    for (auto line : str::split(*files.subusers, '\n')) {
      auto f = str::split(line, ':');
      if (f.size() < 4) continue;
      auto it = accounts.find(std::string(f[1]));
      if (it == accounts.end())
        return Status::temp("unable to find " + std::string(f[1]) + " user for subuser");
      std::string sub(f[0]), pre(f[2]);
      out += "=" + sub + it->second + dash + ":" + pre + ":\n";
      if (opt.brk) out += "+" + sub + opt.brk + it->second + dash + ":" + pre + "-:\n";
    }
  }
  if (files.append) {
    out += *files.append;
    if (!files.append->empty() && files.append->back() != '\n') out += '\n';
  }
  out += ".\n";
  return out;
}

}  // namespace qmail::users
