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

// qmail-local's argv: its name, "--", then `args` (user homedir local
// dash ext domain sender defaultdelivery); pointers into `args`.
std::vector<char*> local_argv(std::vector<std::string>& args) {
  static std::string name = "qmail-local", dashdash = "--";
  std::vector<char*> argv = {name.data(), dashdash.data()};
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return argv;
}

// Our qmail-local's code, here (fd 0 the message, fd 1 the report, the
// user's uid and home directory already).
int run_local(std::vector<std::string>& args) {
  std::vector<char*> argv = local_argv(args);
  return run_program("qmail-local", static_cast<int>(argv.size() - 1), argv.data(),
                     local::local_main);
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

  // qmail-users(5): addresses are matched case-insensitively (lookup and
  // qmail-getpw lower-case what they look up); the rest after a wildcard
  // keeps its case, as qmail-lspawn's does.
  std::optional<users::Entry> entry;
  auto looked = users::lookup(home::path("users/cdb"), local);
  if (looked.is_ok()) {
    entry = std::move(*looked);
  } else if (looked.status().err() != ENOENT) {
    child_fail("Unable to read users/cdb. (#4.3.0)\n", exitcode::kTemp);
  }
  if (!entry) {
    auto pw = run_getpw(local);
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

  std::vector<std::string> args = {entry->user, entry->homedir, local,    entry->dash,
                                   entry->ext,  domain,         c.sender, defaultdelivery_};
  if (builtin_) {
    // Our own qmail-local: its code, here, as the user (spawn/builtin.h).
    // The name is what ps shows and what an admin looks for.
    ::prctl(PR_SET_NAME, "qmail-local");
    ::_exit(run_local(args));
  }
  std::vector<char*> argv = local_argv(args);
  ::execv(prog.c_str(), argv.data());
  child_fail("Unable to run qmail-local. (#4.3.0)\n", exitcode::kTemp);
}

std::optional<Job::WorkerJob> LocalJob::worker_job(const Command& c) {
  if (!builtin_) return std::nullopt;
  std::string local, domain;
  split_address(c.recipient, &local, &domain);
  if (local.empty()) return std::nullopt;
  auto looked = users::lookup(home::path("users/cdb"), local);
  if (!looked.is_ok() || !*looked) return std::nullopt;
  const users::Entry* entry = &**looked;
  if (refuse_root_ && entry->uid == 0) return std::nullopt;
  Fd mess(::open(queue::Layout::from_home().mess(c.id).c_str(), O_RDONLY | O_CLOEXEC));
  if (!mess.valid()) return std::nullopt;
  WorkerJob j;
  j.key = std::to_string(entry->uid) + ":" + std::to_string(entry->gid);
  for (const std::string* f : std::initializer_list<const std::string*>{
           &entry->user, &entry->homedir, &local, &entry->dash, &entry->ext, &domain, &c.sender,
           &defaultdelivery_}) {
    j.payload += *f;
    j.payload += '\0';
  }
  j.fds.push_back(std::move(mess));
  return j;
}

bool LocalJob::start_worker(const std::string& key) {
  std::size_t colon = key.find(':');
  auto uid = str::parse_uint(std::string_view(key).substr(0, colon), 0x7fffffff);
  auto gid = str::parse_uint(std::string_view(key).substr(colon + 1), 0x7fffffff);
  if (colon == std::string::npos || !uid || !gid) return false;
  if (!priv::become(static_cast<uid_t>(*uid), static_cast<gid_t>(*gid)).is_ok()) return false;
  ::prctl(PR_SET_NAME, "qmail-local");
  return true;
}

int LocalJob::run_in_worker(const std::string& payload, std::vector<Fd>& fds) {
  std::vector<std::string> args;
  for (std::size_t at = 0; at < payload.size();) {
    std::size_t z = payload.find('\0', at);
    if (z == std::string::npos) break;
    args.push_back(payload.substr(at, z - at));
    at = z + 1;
  }
  if (args.size() != 8 || fds.size() != 1 || ::dup2(fds[0].get(), 0) != 0) {
    (void)io::write_all(1, "Unable to hand the delivery to qmail-local. (#4.3.0)\n");
    return exitcode::kTemp;
  }
  if (::chdir(args[1].c_str()) != 0) {
    (void)io::write_all(1, "Unable to switch to the user's home directory. (#4.3.0)\n");
    return exitcode::kTemp;
  }
  return run_local(args);
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
