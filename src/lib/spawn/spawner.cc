#include "spawn/spawner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <map>
#include <vector>

#include "io/fd.h"
#include "io/io.h"

namespace qmail::spawn {

namespace {

int g_sigchld_w = -1;

void on_sigchld(int) {
  int saved = errno;
  char c = 'c';
  (void)!::write(g_sigchld_w, &c, 1);
  errno = saved;
}

struct Child {
  std::uint64_t delivery = 0;
  Fd out;  // read end of the report pipe; invalid after EOF
  std::string report;
  bool exited = false;
  int wstat = 0;
};

void close_from_3() {
  if (::close_range(3, ~0U, 0) != 0) {
    long max = ::sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > INT_MAX) max = 65536;
    for (int fd = 3; fd < max; ++fd) ::close(fd);
  }
}

// Reads what is available; returns false at EOF or error.
bool drain(Child& ch) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(ch.out.get(), buf, sizeof buf);
    if (n > 0) {
      std::size_t room = kMaxReport > ch.report.size() ? kMaxReport - ch.report.size() : 0;
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

  auto start = [&](Command c) {
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
  while ((in_open && failure.is_ok()) || !children.empty()) {
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
    int n = ::poll(fds.data(), fds.size(), -1);
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
      } else {
        auto it = children.find(owners[i]);
        if (it != children.end() && !drain(it->second)) it->second.out.reset();
      }
    }
    // Reap. Only our delivery children exist in this process.
    for (;;) {
      int wstat;
      pid_t pid = ::waitpid(-1, &wstat, WNOHANG);
      if (pid <= 0) break;
      auto it = children.find(pid);
      if (it == children.end()) continue;
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
