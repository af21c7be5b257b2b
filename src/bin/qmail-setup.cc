// qmail-setup(8): creates or repairs a qmail home.
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <string>

#include "base/log.h"
#include "base/run_program.h"
#include "fs/fs.h"
#include "setup/setup.h"

namespace {

using qmail::Result;
using qmail::Status;

Result<std::string> own_dir() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return Status::temp_errno("unable to read /proc/self/exe");
  return qmail::fs::dirname(std::string_view(buf, static_cast<std::size_t>(n)));
}

Result<std::string> absolute(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char buf[PATH_MAX];
  if (!::getcwd(buf, sizeof buf)) return Status::temp_errno("unable to get the current directory");
  std::string cwd(buf);
  std::string p = path;
  while (p.starts_with("./")) p.erase(0, 2);
  return cwd == "/" ? "/" + p : cwd + "/" + p;
}

Status setup(std::span<char*> args) {
  bool single_user = false;
  std::string home;
  for (std::size_t i = 1; i < args.size(); ++i) {
    std::string a = args[i];
    if (a == "--single-user") {
      single_user = true;
    } else if (a.starts_with("-") || !home.empty()) {
      return Status::perm("usage: qmail-setup [--single-user] HOME");
    } else {
      home = a;
    }
  }
  if (home.empty()) return Status::perm("usage: qmail-setup [--single-user] HOME");
  while (home.size() > 1 && home.back() == '/') home.pop_back();
  ::umask(022);

  qmail::setup::Options opt;
  QMAIL_ASSIGN_OR_RETURN(opt.home, absolute(home));
  QMAIL_ASSIGN_OR_RETURN(opt.exe_dir, own_dir());
  // The source tree's man/ beside the build directory (build/<preset>/),
  // an installed tree's, or one beside the home.
  opt.man_dirs = {opt.exe_dir + "/../../man", opt.exe_dir + "/../man",
                  qmail::fs::dirname(opt.home) + "/man"};

  qmail::setup::Owners owners;
  if (::geteuid() == 0 && !single_user) {
    QMAIL_ASSIGN_OR_RETURN(owners, qmail::setup::system_owners(opt.home, true));
  } else {
    struct passwd* pw = ::getpwuid(::geteuid());
    std::string name = pw ? pw->pw_name : std::to_string(::geteuid());
    owners = qmail::setup::single_user_owners(name, ::geteuid(), ::getegid());
  }
  qmail::setup::Warnings warnings;
  QMAIL_RETURN_IF_ERROR(qmail::setup::install(opt, owners, &warnings));
  for (const std::string& w : warnings) qmail::log::warn(w);
  qmail::log::info((owners.single_user ? "single-user home " : "root home ") + opt.home +
                   " is ready (owner " + owners.root.name + ")");
  return Status::ok();
}

}  // namespace

int main(int argc, char** argv) { return qmail::run_program("qmail-setup", argc, argv, setup); }
