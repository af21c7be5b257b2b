#include "spawn/spawner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <map>
#include <vector>

#include "base/strings.h"
#include "home/home.h"
#include "io/fd.h"
#include "io/fdpass.h"
#include "io/io.h"
#include "spawn/builtin.h"

namespace qmail::spawn {

namespace {

int g_sigchld_w = -1;

void on_sigchld(int) {
  int saved = errno;
  char c = 'c';
  (void)!::write(g_sigchld_w, &c, 1);
  errno = saved;
}

using Clock = std::chrono::steady_clock;

struct Child {
  std::uint64_t delivery = 0;
  Fd out;  // read end of the report pipe; invalid after EOF
  std::string report;
  bool exited = false;  // or, for a worker, has answered
  int wstat = 0;
};

// A reused child (Job::worker_job). Busy while it has an entry in the
// children map under its pid.
struct Worker {
  std::string key;
  Fd sock;  // invalid once let go
  unsigned served = 0;
  Clock::time_point idle_since{};
};

// A job for a worker: the payload, then the descriptors (the job's, then
// the report pipe's write end as the last).
constexpr std::size_t kMaxWorkerPayload = 8 * kMaxField;

// The worker's loop (fd 3 its socket, 0 and 1 on /dev/null, nothing else
// open): a job, its delivery, its exit code back as decimal text.
[[noreturn]] void worker_main(Job& job, const std::string& key) {
  constexpr int kSock = 3;
  if (!job.start_worker(key)) ::_exit(111);
  WorkerState state(kSock);
  for (unsigned served = 1;; ++served) {
    std::vector<Fd> fds;
    auto payload = io::recv_with_fds(kSock, kMaxWorkerPayload, &fds);
    if (!payload || fds.empty()) ::_exit(0);
    Fd report = std::move(fds.back());
    fds.pop_back();
    if (::dup2(report.get(), 1) != 1) ::_exit(111);
    report.reset();
    int code = job.run_in_worker(*payload, fds);
    fds.clear();
    if (!state.restore()) ::_exit(111);
    std::string answer = std::to_string(code);
    if (!io::send_with_fds(kSock, answer, {})) ::_exit(0);
    // Leaving with the last delivery's code: should the spawner reap us
    // before it reads the answer, the wait status says the same.
    if (served >= kSpawnWorkerDeliveries) ::_exit(code);
  }
}

// Closes every descriptor from 3 on, but `keep` (if 3 or more).
void close_from_3_but(int keep) {
  unsigned first = keep >= 3 ? static_cast<unsigned>(keep) + 1 : 3;
  if (keep > 3) ::close_range(3, static_cast<unsigned>(keep) - 1, 0);
  if (::close_range(first, ~0U, 0) != 0) {
    long max = ::sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > INT_MAX) max = 65536;
    for (int fd = static_cast<int>(first); fd < max; ++fd) ::close(fd);
  }
}

void close_from_3() { close_from_3_but(-1); }

// Reads what is available; returns false at EOF or error.
bool drain(Child& ch) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(ch.out.get(), buf, sizeof buf);
    if (n > 0) {
      // One byte past kMaxReport: enough to tell a report that was cut.
      std::size_t room = kMaxReport + 1 > ch.report.size() ? kMaxReport + 1 - ch.report.size() : 0;
      ch.report.append(buf, std::min(room, static_cast<std::size_t>(n)));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return true;
    return false;
  }
}

}  // namespace

[[noreturn]] void child_fail(std::string_view text, int code) {
  (void)io::write_all(1, text);
  ::_exit(code);
}

void raise_fd_limit() {
  struct rlimit rl;
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

bool rest_if_quiet(int in_fd) {
  // Children let go (a remote worker saying QUIT) may still run: wait
  // for them (SIGCHLD wakes the loop), so none is left a zombie under
  // qmail-idle.
  int wstat;
  pid_t r;
  while ((r = ::waitpid(-1, &wstat, WNOHANG)) > 0) {
  }
  if (r == 0 || errno != ECHILD) return true;
  pollfd p{in_fd, POLLIN, 0};
  if (::poll(&p, 1, 0) != 0) return true;  // something to read (or to learn)
  char self[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self);
  if (n <= 0 || static_cast<std::size_t>(n) >= sizeof self) return false;
  std::string exe(self, static_cast<std::size_t>(n));
  // Replaced since it started (an upgrade): the old file is gone.
  if (exe.ends_with(" (deleted)")) return false;
  std::string idle = home::path("bin/qmail-idle");
  // argv[0] is the program's own name: ps shows qmail-rspawn throughout.
  std::string name = exe.substr(exe.rfind('/') + 1);
  char* const argv[] = {name.data(), exe.data(), nullptr};
  ::execv(idle.c_str(), argv);
  return false;
}

Status serve(Job& job, int in_fd, int out_fd) {
  int sp[2];
  if (::pipe2(sp, O_CLOEXEC | O_NONBLOCK) != 0) return Status::temp_errno("pipe");
  Fd sig_r(sp[0]), sig_w(sp[1]);
  g_sigchld_w = sig_w.get();
  struct sigaction sa {};
  sa.sa_handler = on_sigchld;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  ::sigaction(SIGCHLD, &sa, nullptr);
  ::signal(SIGTERM, SIG_IGN);
  raise_fd_limit();

  std::map<pid_t, Child> children;
  Decoder dec;
  bool in_open = true;
  Status failure = Status::ok();

  auto reply = [&](const Reply& r) {
    if (!failure.is_ok()) return;
    Status s = io::write_all(out_fd, encode(r));
    if (!s.is_ok()) failure = Status::temp("unable to write to qmail-send: " + s.message());
  };

  std::map<pid_t, Worker> workers;
  std::vector<pid_t> idle;  // idle workers, the longest idle first

  auto fork_worker = [&](const std::string& key) -> pid_t {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return -1;
    Fd mine(sv[0]), theirs(sv[1]);
    pid_t pid = ::fork();
    if (pid < 0) return -1;
    if (pid == 0) {
      // qmail-send's pipes must not stay open in a worker.
      int nul = ::open("/dev/null", O_RDWR | O_CLOEXEC);
      if (nul < 0 || ::dup2(nul, 0) != 0 || ::dup2(nul, 1) != 1) ::_exit(111);
      // Close-on-exec: the programs a delivery runs must not get it.
      if (theirs.get() != 3 && ::dup3(theirs.get(), 3, O_CLOEXEC) != 3) ::_exit(111);
      close_from_3_but(3);
      struct sigaction dfl {};
      dfl.sa_handler = SIG_DFL;
      sigemptyset(&dfl.sa_mask);
      for (int sig : {SIGCHLD, SIGTERM, SIGPIPE, SIGHUP, SIGALRM}) ::sigaction(sig, &dfl, nullptr);
      worker_main(job, key);
    }
    Worker& w = workers[pid];
    w.key = key;
    w.sock = std::move(mine);
    return pid;
  };
  auto let_go = [&](pid_t pid) {  // it sees EOF and leaves; reaped later
    workers[pid].sock.reset();
    std::erase(idle, pid);
  };

  // Gives `c` to a worker; false if none could take it (then a child is
  // forked for it as usual).
  auto start_in_worker = [&](const Command& c, Job::WorkerJob& wj) -> bool {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return false;
    Fd r(p[0]), w(p[1]);
    std::vector<int> fds;
    for (const Fd& f : wj.fds) fds.push_back(f.get());
    fds.push_back(w.get());
    for (int attempt = 0; attempt < 3; ++attempt) {
      pid_t pid = -1;
      for (auto it = idle.rbegin(); it != idle.rend(); ++it) {
        if (workers[*it].key == wj.key) {
          pid = *it;
          idle.erase(std::next(it).base());
          break;
        }
      }
      if (pid < 0) {
        if (idle.size() >= kMaxIdleSpawnWorkers) let_go(idle.front());
        pid = fork_worker(wj.key);
        if (pid < 0) return false;
      }
      if (!io::send_with_fds(workers[pid].sock.get(), wj.payload, fds)) {
        let_go(pid);
        continue;
      }
      ::fcntl(r.get(), F_SETFL, O_NONBLOCK);
      Child ch;
      ch.delivery = c.delivery;
      ch.out = std::move(r);
      children.emplace(pid, std::move(ch));
      return true;
    }
    return false;
  };

  auto start = [&](Command c) {
    if (auto wj = job.worker_job(c); wj && start_in_worker(c, *wj)) return;
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) {
      reply({c.delivery, 'Z', "Unable to create a pipe. (#4.3.0)\n"});
      return;
    }
    Fd r(p[0]), w(p[1]);
    pid_t pid = ::fork();
    if (pid < 0) {
      reply({c.delivery, 'Z', "Unable to fork. (#4.3.0)\n"});
      return;
    }
    if (pid == 0) {
      if (::dup2(w.get(), 1) != 1) ::_exit(111);
      close_from_3();
      struct sigaction dfl {};
      dfl.sa_handler = SIG_DFL;
      sigemptyset(&dfl.sa_mask);
      for (int sig : {SIGCHLD, SIGTERM, SIGPIPE, SIGHUP, SIGALRM}) ::sigaction(sig, &dfl, nullptr);
      job.run_child(c);
    }
    w.reset();
    ::fcntl(r.get(), F_SETFL, O_NONBLOCK);
    Child ch;
    ch.delivery = c.delivery;
    ch.out = std::move(r);
    children.emplace(pid, std::move(ch));
  };

  std::vector<pollfd> fds;
  std::vector<pid_t> owners;
  bool may_rest = job.may_rest() && in_fd == 0 && out_fd == 1;
  while ((in_open && failure.is_ok()) || !children.empty()) {
    if (may_rest && children.empty() && workers.empty() && in_open && failure.is_ok() &&
        dec.empty()) {
      may_rest = rest_if_quiet(in_fd);
    }
    fds.clear();
    owners.clear();
    fds.push_back({sig_r.get(), POLLIN, 0});
    owners.push_back(0);
    if (in_open && failure.is_ok()) {
      fds.push_back({in_fd, POLLIN, 0});
      owners.push_back(-1);
    }
    for (auto& [pid, ch] : children) {
      if (!ch.out.valid()) continue;
      fds.push_back({ch.out.get(), POLLIN, 0});
      owners.push_back(pid);
    }
    const std::size_t first_worker = fds.size();
    for (auto& [pid, ch] : children) {
      auto w = workers.find(pid);
      if (ch.exited || w == workers.end() || !w->second.sock.valid()) continue;
      fds.push_back({w->second.sock.get(), POLLIN, 0});
      owners.push_back(pid);
    }
    // Idle workers past their time are let go.
    int timeout = -1;
    const auto now = Clock::now();
    while (!idle.empty() &&
           now - workers[idle.front()].idle_since >= std::chrono::seconds(kSpawnWorkerIdleSeconds))
      let_go(idle.front());
    if (!idle.empty()) {
      auto left =
          workers[idle.front()].idle_since + std::chrono::seconds(kSpawnWorkerIdleSeconds) - now;
      timeout =
          static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(left).count()) + 1;
    }
    int n = ::poll(fds.data(), fds.size(), timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::temp_errno("poll");
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      if (owners[i] == 0) {
        char buf[256];
        while (::read(sig_r.get(), buf, sizeof buf) > 0) {
        }
      } else if (owners[i] == -1) {
        char buf[65536];
        ssize_t got = ::read(in_fd, buf, sizeof buf);
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (got <= 0) {
          in_open = false;
          continue;
        }
        dec.feed(std::string_view(buf, static_cast<std::size_t>(got)));
        for (;;) {
          auto cmd = dec.next_command();
          if (!cmd.is_ok()) {
            failure = cmd.status();
            in_open = false;
            break;
          }
          if (!*cmd) break;
          start(std::move(**cmd));
        }
      } else if (i >= first_worker) {
        // A worker's answer: the delivery's exit code.
        pid_t pid = owners[i];
        Worker& w = workers[pid];
        std::vector<Fd> none;
        auto answer = io::recv_with_fds(w.sock.get(), 32, &none);
        if (!answer) {
          if (errno == EAGAIN || errno == EINTR) continue;
          w.sock.reset();  // it died: waitpid says how
          continue;
        }
        auto code = str::parse_uint(*answer, 255);
        auto it = children.find(pid);
        if (it == children.end()) {
          let_go(pid);
          continue;
        }
        it->second.exited = true;
        if (!code) {
          // Not an answer: the delivery counts as crashed (temporary).
          it->second.wstat = SIGKILL;
          let_go(pid);
          continue;
        }
        it->second.wstat = static_cast<int>(*code) << 8;
        if (++w.served >= kSpawnWorkerDeliveries) {
          w.sock.reset();  // it leaves by itself
        } else {
          w.idle_since = Clock::now();
          idle.push_back(pid);
        }
      } else {
        auto it = children.find(owners[i]);
        if (it != children.end() && !drain(it->second)) it->second.out.reset();
      }
    }
    // Reap. Only our delivery children and workers exist in this process.
    for (;;) {
      int wstat;
      pid_t pid = ::waitpid(-1, &wstat, WNOHANG);
      if (pid <= 0) break;
      if (workers.erase(pid)) std::erase(idle, pid);
      auto it = children.find(pid);
      if (it == children.end() || it->second.exited) continue;
      it->second.exited = true;
      it->second.wstat = wstat;
    }
    for (auto it = children.begin(); it != children.end();) {
      Child& ch = it->second;
      if (ch.exited && ch.out.valid()) {
        // A grandchild may still hold the pipe: take what is there.
        (void)drain(ch);
        ch.out.reset();
      }
      if (ch.exited && !ch.out.valid()) {
        Reply r = job.translate(ch.wstat, ch.report);
        r.delivery = ch.delivery;
        reply(r);
        it = children.erase(it);
      } else {
        ++it;
      }
    }
  }
  return failure;
}

}  // namespace qmail::spawn
