#include "spawn/local.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "base/exit_codes.h"
#include "base/run_program.h"
#include "base/strings.h"
#include "fs/fs.h"
#include "home/home.h"
#include "io/io.h"
#include "local/main.h"
#include "priv/priv.h"
#include "queue/layout.h"
#include "spawn/builtin.h"

namespace qmail::spawn {

namespace {

// qmail-getpw prints six short fields; anything longer is garbage.
inline constexpr std::size_t kMaxGetpwOutput = 16384;

// Runs HOME/bin/qmail-getpw `local`. Its exit code decides: 0 found,
// 100 no such address (permanent), anything else temporary.
Result<users::Entry> run_getpw(const std::string& local) {
  std::string prog = home::path("bin/qmail-getpw");
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return Status::temp_errno("pipe");
  Fd r(p[0]), w(p[1]);
  pid_t pid = ::fork();
  if (pid < 0) return Status::temp_errno("fork");
  if (pid == 0) {
    if (::dup2(w.get(), 1) != 1) ::_exit(111);
    char* const argv[] = {const_cast<char*>("qmail-getpw"), const_cast<char*>(local.c_str()),
                          nullptr};
    ::execv(prog.c_str(), argv);
    ::_exit(111);
  }
  w.reset();
  auto out = io::read_all(r.get(), kMaxGetpwOutput);
  int wstat = 0;
  while (::waitpid(pid, &wstat, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(wstat)) return Status::temp("qmail-getpw crashed. (#4.3.0)\n");
  if (WEXITSTATUS(wstat) == exitcode::kPerm)
    return Status::perm("Sorry, no mailbox here by that name. (#5.1.1)\n");
  if (WEXITSTATUS(wstat) != 0 || !out.is_ok())
    return Status::temp(
        "Unable to find the user for this address (qmail-getpw failed). (#4.3.0)\n");
  auto e = parse_getpw(*out);
  if (!e.is_ok()) return Status::temp("qmail-getpw printed garbage. (#4.3.0)\n");
  return e;
}

}  // namespace

void split_address(std::string_view recipient, std::string* local, std::string* domain) {
  std::size_t at = recipient.rfind('@');
  if (at == std::string_view::npos) {
    *local = std::string(recipient);
    domain->clear();
    return;
  }
  *local = std::string(recipient.substr(0, at));
  *domain = std::string(recipient.substr(at + 1));
}

Result<users::Entry> parse_getpw(std::string_view out) {
  std::vector<std::string_view> f;
  while (!out.empty() && f.size() < 7) {
    std::size_t z = out.find('\0');
    if (z == std::string_view::npos) return Status::perm("unterminated field");
    f.push_back(out.substr(0, z));
    out.remove_prefix(z + 1);
  }
  if (f.size() != 6 || !out.empty()) return Status::perm("need six fields");
  auto uid = str::parse_uint(f[1], 0x7fffffff);
  auto gid = str::parse_uint(f[2], 0x7fffffff);
  if (!uid || !gid || f[0].empty() || f[3].empty() || f[3][0] != '/')
    return Status::perm("bad field");
  users::Entry e;
  e.user = std::string(f[0]);
  e.uid = static_cast<uid_t>(*uid);
  e.gid = static_cast<gid_t>(*gid);
  e.homedir = std::string(f[3]);
  e.dash = std::string(f[4]);
  e.ext = std::string(f[5]);
  return e;
}

void LocalJob::run_child(const Command& c) {
  std::string local, domain;
  split_address(c.recipient, &local, &domain);
  // qmail-lspawn(8): an empty mailbox name is a trash address.
  if (local.empty()) child_fail("Trashed: empty mailbox name.\n", 0);

  // qmail-users(5): addresses are matched case-insensitively.
  std::string lower = str::lower(local);
  std::optional<users::Entry> entry;
  auto looked = users::lookup(home::path("users/cdb"), lower);
  if (looked.is_ok()) {
    entry = std::move(*looked);
  } else if (looked.status().err() != ENOENT) {
    child_fail("Unable to read users/cdb. (#4.3.0)\n", exitcode::kTemp);
  }
  if (!entry) {
    auto pw = run_getpw(lower);
    if (!pw.is_ok())
      child_fail(pw.status().message(), pw.status().is_perm() ? exitcode::kPerm : exitcode::kTemp);
    entry = std::move(*pw);
  }
  if (refuse_root_ && entry->uid == 0)
    child_fail("Not allowed to deliver mail as root. (#4.3.0)\n", exitcode::kTemp);

  // The message, read-only, as qmail-local's fd 0.
  std::string mess = queue::Layout::from_home().mess(c.id);
  int m = ::open(mess.c_str(), O_RDONLY);
  if (m < 0) child_fail("Unable to open the message file. (#4.3.0)\n", exitcode::kTemp);
  if (m != 0) {
    if (::dup2(m, 0) != 0) child_fail("Unable to dup the message. (#4.3.0)\n", exitcode::kTemp);
    ::close(m);
  }
  std::string prog = home::path("bin/qmail-local");
  Status s = priv::become(entry->uid, entry->gid);
  if (!s.is_ok()) child_fail("Unable to switch to the user's uid. (#4.3.0)\n", exitcode::kTemp);
  if (::chdir(entry->homedir.c_str()) != 0)
    child_fail("Unable to switch to the user's home directory. (#4.3.0)\n", exitcode::kTemp);

  std::vector<char*> argv;
  auto arg = [&](const std::string& a) { argv.push_back(const_cast<char*>(a.c_str())); };
  static const std::string kName = "qmail-local", kDashDash = "--";
  arg(kName);
  arg(kDashDash);
  arg(entry->user);
  arg(entry->homedir);
  arg(local);
  arg(entry->dash);
  arg(entry->ext);
  arg(domain);
  arg(c.sender);
  arg(defaultdelivery_);
  argv.push_back(nullptr);
  if (builtin_) {
    // Our own qmail-local: its code, here, as the user (spawn/builtin.h).
    // The name is what ps shows and what an admin looks for.
    ::prctl(PR_SET_NAME, "qmail-local");
    ::_exit(run_program("qmail-local", static_cast<int>(argv.size() - 1), argv.data(),
                        local::local_main));
  }
  ::execv(prog.c_str(), argv.data());
  child_fail("Unable to run qmail-local. (#4.3.0)\n", exitcode::kTemp);
}

Reply LocalJob::translate(int wstat, std::string_view output) {
  return local_result(wstat, output);
}

Status lspawn_main(std::span<char*> args) {
  if (args.size() < 2) return Status::perm("usage: qmail-lspawn defaultdelivery");
  QMAIL_ASSIGN_OR_RETURN(home::Ids ids, home::load_ids());
  LocalJob job(args[1], !ids.single_user,
               carries_mark(home::path("bin/qmail-local"), QMAIL_BUILTIN_MARK_LOCAL));
  return serve(job, 0, 1);
}

}  // namespace qmail::spawn
