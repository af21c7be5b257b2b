#include "spawn/rpool.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <list>
#include <vector>

#include "base/log.h"
#include "base/strings.h"
#include "dns/dns.h"
#include "io/fd.h"
#include "io/io.h"
#include "queue/layout.h"
#include "remote/remote.h"
#include "spawn/local.h"
#include "spawn/protocol.h"
#include "spawn/spawner.h"

namespace qmail::spawn {

namespace {

using Clock = std::chrono::steady_clock;

int g_sigchld_w = -1;

void on_sigchld(int) {
  int saved = errno;
  char c = 'c';
  (void)!::write(g_sigchld_w, &c, 1);
  errno = saved;
}

void close_from(int first) {
  if (::close_range(static_cast<unsigned>(first), ~0U, 0) != 0) {
    long max = ::sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > INT_MAX) max = 65536;
    for (int fd = first; fd < max; ++fd) ::close(fd);
  }
}

int ms_until(Clock::time_point t) {
  auto d = std::chrono::duration_cast<std::chrono::milliseconds>(t - Clock::now()).count();
  if (d < 0) return 0;
  return d > INT_MAX ? INT_MAX : static_cast<int>(d) + 1;
}

std::string one_record(char letter, std::string_view text) {
  std::string r(1, letter);
  r += text;
  r += '\0';
  return r;
}

// The worker: jobs on `sock`, answers back; exits at EOF.
[[noreturn]] void worker(int sock) {
  ::prctl(PR_SET_NAME, "qmail-remote");
  log::set_program("qmail-remote");
  struct sigaction sa {};
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = SIG_DFL;
  for (int sig : {SIGCHLD, SIGHUP, SIGALRM}) ::sigaction(sig, &sa, nullptr);
  // A closed connection is a write error, not a death; TERM is ignored
  // like qmail-rspawn's: a worker leaves when qmail-rspawn lets it go.
  sa.sa_handler = SIG_IGN;
  for (int sig : {SIGPIPE, SIGTERM}) ::sigaction(sig, &sa, nullptr);

  queue::Layout layout = queue::Layout::from_home();
  remote::Sessions sessions;
  Decoder dec;
  try {
    for (;;) {
      pollfd fds[2] = {{sock, POLLIN, 0}, {sessions.fd(), POLLIN, 0}};
      nfds_t nf = fds[1].fd >= 0 ? 2 : 1;
      int timeout = -1;
      if (auto e = sessions.expires()) timeout = ms_until(*e);
      int n = ::poll(fds, nf, timeout);
      if (n < 0) {
        if (errno == EINTR) continue;
        ::_exit(111);
      }
      if (n == 0) {
        sessions.close();  // idle long enough
        continue;
      }
      if (nf == 2 && fds[1].revents) sessions.close(false);  // EOF or 421 from the server
      if (!fds[0].revents) continue;
      char buf[65536];
      ssize_t got = ::read(sock, buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        sessions.close();
        ::_exit(0);
      }
      dec.feed(std::string_view(buf, static_cast<std::size_t>(got)));
      for (;;) {
        auto cmd = dec.next_command();
        if (!cmd.is_ok()) ::_exit(111);
        if (!*cmd) break;
        Command& c = **cmd;
        std::string local, host;
        split_address(c.recipient, &local, &host);
        WorkerAnswer a;
        a.delivery = c.delivery;
        Fd m(::open(layout.mess(c.id).c_str(), O_RDONLY | O_CLOEXEC));
        if (!m.valid()) {
          a.report = one_record('Z', "Unable to open the message file. (#4.3.0)\n");
        } else {
          char* rcpt[] = {c.recipient.data()};
          a.report = sessions.deliver(host, c.sender, rcpt, m.get());
        }
        a.domain = sessions.domain();
        if (!io::write_all(sock, encode_answer(a)).is_ok()) ::_exit(111);
      }
    }
  } catch (...) {
    ::_exit(111);
  }
}

struct Worker {
  pid_t pid = 0;
  Fd sock;
  std::string in;
  bool busy = false;
  std::uint64_t delivery = 0;
  std::string domain;
  Clock::time_point idle_since;
};

}  // namespace

std::string encode_answer(const WorkerAnswer& a) {
  std::string out = std::to_string(a.delivery);
  out += '\0';
  out += a.domain;
  out += '\0';
  out += std::to_string(a.report.size());
  out += '\0';
  out += a.report;
  return out;
}

Result<std::optional<WorkerAnswer>> take_answer(std::string& buf) {
  std::size_t z1 = buf.find('\0');
  if (z1 == std::string::npos) {
    if (buf.size() > 32) return Status::perm("bad worker answer");
    return std::optional<WorkerAnswer>();
  }
  std::size_t z2 = buf.find('\0', z1 + 1);
  if (z2 == std::string::npos) {
    if (buf.size() - z1 > kMaxField) return Status::perm("bad worker answer");
    return std::optional<WorkerAnswer>();
  }
  std::size_t z3 = buf.find('\0', z2 + 1);
  if (z3 == std::string::npos) {
    if (buf.size() - z2 > 32) return Status::perm("bad worker answer");
    return std::optional<WorkerAnswer>();
  }
  auto d = str::parse_uint(std::string_view(buf).substr(0, z1), kMaxDelivery);
  auto n = str::parse_uint(std::string_view(buf).substr(z2 + 1, z3 - z2 - 1), kMaxWorkerAnswer);
  if (!d || !n || z3 - z2 - 1 > 20) return Status::perm("bad worker answer");
  if (buf.size() - (z3 + 1) < *n) return std::optional<WorkerAnswer>();
  WorkerAnswer a;
  a.delivery = *d;
  a.domain = buf.substr(z1 + 1, z2 - z1 - 1);
  a.report = buf.substr(z3 + 1, *n);
  buf.erase(0, z3 + 1 + *n);
  return std::optional<WorkerAnswer>(std::move(a));
}

Status serve_pool(int in_fd, int out_fd) {
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
  ::signal(SIGPIPE, SIG_IGN);
  raise_fd_limit();

  std::list<Worker> workers;
  Decoder dec;
  bool in_open = true;
  Status failure = Status::ok();

  auto reply = [&](const Reply& r) {
    if (!failure.is_ok()) return;
    Status s = io::write_all(out_fd, encode(r));
    if (!s.is_ok()) failure = Status::temp("unable to write to qmail-send: " + s.message());
  };

  auto fork_worker = [&]() -> Worker* {
    // Every worker resolves: one copy of libunbound, loaded here before
    // the first fork, serves them all (a worker that loaded its own would
    // relocate it alone). A failure is the worker's to report, per
    // delivery, when it tries.
    (void)dns::load_library();
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return nullptr;
    Fd mine(sv[0]), theirs(sv[1]);
    pid_t pid = ::fork();
    if (pid < 0) return nullptr;
    if (pid == 0) {
      // qmail-send's pipes must not stay open in a worker.
      int nul = ::open("/dev/null", O_RDWR | O_CLOEXEC);
      if (nul < 0 || ::dup2(nul, 0) != 0 || ::dup2(nul, 1) != 1) ::_exit(111);
      int s = theirs.get();
      if (s == 3) {
        ::fcntl(3, F_SETFD, 0);
      } else if (::dup2(s, 3) != 3) {
        ::_exit(111);
      }
      close_from(4);
      worker(3);
    }
    Worker w;
    w.pid = pid;
    w.sock = std::move(mine);
    w.idle_since = Clock::now();
    workers.push_back(std::move(w));
    return &workers.back();
  };

  // Lets a worker go (closes its socket); its delivery under way, if any,
  // is a temporary failure.
  auto drop = [&](std::list<Worker>::iterator it) {
    if (it->busy) reply({it->delivery, 'Z', "qmail-remote crashed. (#4.3.0)\n"});
    return workers.erase(it);
  };

  auto dispatch = [&](const Command& c) {
    std::string local, host;
    split_address(c.recipient, &local, &host);
    host = str::lower(host);
    std::string job = encode(c);
    for (int attempt = 0; attempt < 2; ++attempt) {
      Worker* pick = nullptr;
      std::size_t idle = 0;
      Worker* oldest = nullptr;
      Worker* bare = nullptr;
      for (auto& w : workers) {
        if (w.busy) continue;
        ++idle;
        if (!oldest || w.idle_since < oldest->idle_since) oldest = &w;
        if (!host.empty() && w.domain == host && (!pick || w.idle_since > pick->idle_since))
          pick = &w;
        if (w.domain.empty() && !bare) bare = &w;
      }
      if (!pick) pick = bare;
      if (!pick && idle >= kMaxIdleWorkers) pick = oldest;
      if (!pick) pick = fork_worker();
      if (!pick) break;
      if (io::write_all(pick->sock.get(), job).is_ok()) {
        pick->busy = true;
        pick->delivery = c.delivery;
        return;
      }
      // It went away meanwhile (not busy: nothing to report).
      for (auto it = workers.begin(); it != workers.end(); ++it)
        if (&*it == pick) {
          drop(it);
          break;
        }
    }
    reply({c.delivery, 'Z', "Unable to start a remote delivery process. (#4.3.0)\n"});
  };

  std::vector<pollfd> fds;
  std::vector<Worker*> owners;
  auto any_busy = [&] {
    return std::any_of(workers.begin(), workers.end(), [](const Worker& w) { return w.busy; });
  };
  // qmail-rspawn's own descriptors only: qmail-idle waits on 0.
  bool may_rest = in_fd == 0 && out_fd == 1;
  while ((in_open && failure.is_ok()) || any_busy()) {
    // Idle workers past their time are let go (they see EOF and leave).
    auto now = Clock::now();
    int timeout = -1;
    for (auto it = workers.begin(); it != workers.end();) {
      if (!it->busy && now - it->idle_since >= std::chrono::seconds(kWorkerIdleSeconds)) {
        it = workers.erase(it);
        continue;
      }
      if (!it->busy) {
        int t = ms_until(it->idle_since + std::chrono::seconds(kWorkerIdleSeconds));
        if (timeout < 0 || t < timeout) timeout = t;
      }
      ++it;
    }
    // No worker left (so no delivery under way) and no command half
    // read: nothing here needs this process's memory until the next one.
    if (may_rest && workers.empty() && in_open && failure.is_ok() && dec.empty()) {
      may_rest = rest_if_quiet(in_fd);
    }
    fds.clear();
    owners.clear();
    fds.push_back({sig_r.get(), POLLIN, 0});
    owners.push_back(nullptr);
    bool reading = in_open && failure.is_ok();
    if (reading) {
      fds.push_back({in_fd, POLLIN, 0});
      owners.push_back(nullptr);
    }
    for (auto& w : workers) {
      fds.push_back({w.sock.get(), POLLIN, 0});
      owners.push_back(&w);
    }
    int n = ::poll(fds.data(), fds.size(), timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::temp_errno("poll");
    }
    if (fds[0].revents) {
      char buf[256];
      while (::read(sig_r.get(), buf, sizeof buf) > 0) {
      }
    }
    // Reap: only workers are our children; their sockets tell us the rest.
    for (;;) {
      int wstat;
      if (::waitpid(-1, &wstat, WNOHANG) <= 0) break;
    }
    // Workers first: a delivery's answer frees its worker for new commands.
    for (std::size_t i = reading ? 2 : 1; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      Worker* w = owners[i];
      auto it =
          std::find_if(workers.begin(), workers.end(), [&](const Worker& x) { return &x == w; });
      if (it == workers.end()) continue;
      char buf[65536];
      ssize_t got = ::read(w->sock.get(), buf, sizeof buf);
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (got <= 0) {
        drop(it);
        continue;
      }
      w->in.append(buf, static_cast<std::size_t>(got));
      bool bad = false;
      for (;;) {
        auto a = take_answer(w->in);
        if (!a.is_ok() || (*a && (!w->busy || (*a)->delivery != w->delivery))) {
          bad = true;
          break;
        }
        if (!*a) break;
        Reply r = remote_result(0, (*a)->report);
        r.delivery = (*a)->delivery;
        reply(r);
        w->busy = false;
        w->domain = std::move((*a)->domain);
        w->idle_since = Clock::now();
      }
      if (bad) {
        // Its socket closed, it leaves at its next read or write.
        log::warn("a remote worker sent garbage; let go");
        drop(it);
      }
    }
    if (reading && fds[1].revents) {
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
        dispatch(**cmd);
      }
    }
  }
  // Closing their sockets lets the idle workers go.
  workers.clear();
  return failure;
}

}  // namespace qmail::spawn
