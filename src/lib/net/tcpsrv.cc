#include "net/tcpsrv.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/log.h"
#include "base/run_program.h"
#include "base/strings.h"
#include "dns/dns.h"
#include "home/home.h"
#include "io/fd.h"
#include "io/fdpass.h"
#include "io/io.h"
#include "net/net.h"
#include "priv/priv.h"
#include "queue/inject.h"
#include "smtp/main.h"
#include "spawn/builtin.h"
#include "tcprules/rules.h"

namespace qmail::tcpsrv {

namespace {

constexpr std::string_view kUsage =
    "usage: qmail-tcpsrv [ -1qQvDdhHpPRXE ] [ -c limit ] [ -i perip ] [ -x rules.cdb ] "
    "[ -u uid ] [ -g gid ] [ -U ] [ -l localname ] [ -B banner ] [ -b backlog ] "
    "[ -r [-]zone ] [ -a zone ] "
    "host port program [ arg ... ]";

Result<unsigned> parse_count(std::string_view s, char opt, std::uint64_t max) {
  auto v = str::parse_uint(s, max);
  if (!v) return Status::perm(std::string("bad number for -") + opt + ": " + std::string(s));
  return static_cast<unsigned>(*v);
}

Status set_valued(Options& o, char c, const std::string& v) {
  constexpr std::uint64_t kMaxId = 0xfffffffe;
  switch (c) {
    case 'c': {
      QMAIL_ASSIGN_OR_RETURN(o.limit, parse_count(v, c, 1000000));
      if (o.limit == 0) return Status::perm("-c must be at least 1");
      break;
    }
    case 'i': {
      QMAIL_ASSIGN_OR_RETURN(o.per_ip, parse_count(v, c, 1000000));
      break;
    }
    case 'b': {
      QMAIL_ASSIGN_OR_RETURN(unsigned b, parse_count(v, c, 65535));
      o.backlog = static_cast<int>(b);
      break;
    }
    case 'x':
      o.rules = v;
      break;
    case 'l':
      o.local_host = v;
      break;
    case 'B':
      o.banner = v;
      break;
    case 'r':
    case 'a': {
      QMAIL_ASSIGN_OR_RETURN(net::rbl::Source src, net::rbl::parse_source(v, c == 'a'));
      o.rbl.push_back(std::move(src));
      break;
    }
    case 'u': {
      QMAIL_ASSIGN_OR_RETURN(unsigned u, parse_count(v, c, kMaxId));
      o.uid = u;
      break;
    }
    case 'g': {
      QMAIL_ASSIGN_OR_RETURN(unsigned g, parse_count(v, c, kMaxId));
      o.gid = g;
      break;
    }
    default:
      break;  // -t, -T: ident timeouts; we do no ident lookups
  }
  return Status::ok();
}

}  // namespace

Result<Options> parse_args(std::span<char* const> args) {
  Options o;
  std::size_t i = 0;
  for (; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a.size() < 2 || a[0] != '-') break;
    for (std::size_t j = 1; j < a.size(); ++j) {
      char c = a[j];
      auto value = [&]() -> Result<std::string> {
        if (j + 1 < a.size()) {
          std::string v(a.substr(j + 1));
          j = a.size();
          return v;
        }
        if (i + 1 >= args.size())
          return Status::perm(std::string("option -") + c + " needs a value");
        j = a.size();
        return std::string(args[++i]);
      };
      switch (c) {
        case 'q':
          o.verbosity = 0;
          break;
        case 'Q':
          o.verbosity = 1;
          break;
        case 'v':
          o.verbosity = 2;
          break;
        case '1':
          o.print_port = true;
          break;
        case 'D':
          o.nodelay = true;
          break;
        case 'd':
          o.nodelay = false;
          break;
        case 'h':
          o.remote_host = true;
          break;
        case 'H':
          o.remote_host = false;
          break;
        case 'p':
          o.paranoid = true;
          break;
        case 'P':
          o.paranoid = false;
          break;
        case 'R':
        case 'o':
        case 'O':
          break;  // we do no ident lookups
        case 'X':
          o.rules_missing_ok = true;
          break;
        case 'E':
          o.always_exec = true;
          break;
        case 'c':
        case 'i':
        case 'b':
        case 't':
        case 'T':
        case 'x':
        case 'l':
        case 'B':
        case 'r':
        case 'a':
        case 'u':
        case 'g': {
          QMAIL_ASSIGN_OR_RETURN(std::string v, value());
          QMAIL_RETURN_IF_ERROR(set_valued(o, c, v));
          break;
        }
        case 'U': {
          const char* u = std::getenv("UID");
          const char* g = std::getenv("GID");
          if (!u || !g) return Status::perm("-U needs $UID and $GID");
          QMAIL_ASSIGN_OR_RETURN(unsigned uv, parse_count(u, c, 0xfffffffe));
          QMAIL_ASSIGN_OR_RETURN(unsigned gv, parse_count(g, c, 0xfffffffe));
          o.uid = uv;
          o.gid = gv;
          break;
        }
        default:
          return Status::perm(std::string("unknown option -") + c + "\n" + std::string(kUsage));
      }
    }
  }
  if (args.size() - i < 3) return Status::perm(std::string(kUsage));
  o.host = args[i];
  o.port = args[i + 1];
  for (std::size_t k = i + 2; k < args.size(); ++k) o.program.emplace_back(args[k]);
  return o;
}

namespace {

int g_sigpipe_w = -1;
volatile sig_atomic_t g_term = 0;

void on_signal(int sig) {
  int saved = errno;
  if (sig == SIGTERM) g_term = 1;
  char c = 0;
  (void)!::write(g_sigpipe_w, &c, 1);
  errno = saved;
}

void set_handler(int sig, void (*fn)(int)) {
  struct sigaction sa {};
  sa.sa_handler = fn;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(sig, &sa, nullptr);
}

std::string unknown_or(const std::optional<std::string>& s) { return s ? *s : std::string(); }

// The resolver of control/dnsresolvers (as qmail-remote uses it), made on
// first use; nullptr (no DNS: fail open) when it cannot be set up.
class LazyResolver {
 public:
  dns::Resolver* get() {
    if (tried_) return r_.get();
    tried_ = true;
    auto fwd = control::read_lines("dnsresolvers");
    if (!fwd.is_ok()) {
      log::warn("no DNS: " + fwd.status().message());
      return nullptr;
    }
    auto r = dns::Resolver::create(*fwd);
    if (!r.is_ok()) {
      log::warn("no DNS: " + r.status().message());
      return nullptr;
    }
    r_ = std::move(*r);
    if (!fwd->empty()) {
      // The forwarders named in dnsresolvers know the reverse names of the
      // loopback and private networks (a LAN's own DNS); libunbound's
      // built-in answers for them would hide those.
      for (std::string_view z : {"127.in-addr.arpa.", "10.in-addr.arpa.", "168.192.in-addr.arpa.",
                                 "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
                                 "ip6.arpa."}) {
        if (auto st = r_->drop_local_zone(z); !st.is_ok()) log::warn(st.message());
      }
      for (int i = 16; i < 32; ++i) {
        (void)r_->drop_local_zone(std::to_string(i) + ".172.in-addr.arpa.");
      }
    }
    return r_.get();
  }

 private:
  bool tried_ = false;
  std::unique_ptr<dns::Resolver> r_;
};

// tcpserver(1) -h: the PTR name of `ip`; with -p only if that name has
// `ip` among its addresses. nullopt when unknown (no name, DNS trouble).
std::optional<std::string> remote_host(const Options& opt, const std::string& ip_text,
                                       LazyResolver& dns) {
  auto ip = dns::IpAddr::parse(ip_text);
  dns::Resolver* r = dns.get();
  if (!ip || !r) return std::nullopt;
  auto names = r->ptr(*ip);
  if (!names.is_ok() || names->empty()) return std::nullopt;
  std::string name = names->front();
  if (opt.paranoid) {
    auto addrs = r->ip(name);
    if (!addrs.is_ok()) return std::nullopt;
    bool confirmed = false;
    for (const auto& a : *addrs) confirmed = confirmed || a == *ip;
    if (!confirmed) return std::nullopt;
  }
  return name;
}

// A child's signals: the listener's handlers gone, nothing blocked.
void child_signals() {
  set_handler(SIGCHLD, SIG_DFL);
  set_handler(SIGTERM, SIG_DFL);
  set_handler(SIGPIPE, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

// In the child: environment, rules, then exec (or, with `builtin`, our
// qmail-smtpd's code; spawn/builtin.h). Returns the exit code of the
// connection (exec does not return).
int run_connection(const Options& opt, Fd conn, bool builtin) {
  child_signals();
  // A worker's earlier connection ran qmail-smtpd's code under that name;
  // this connection's lines are ours again (qmail-tcpsrv(8), -v).
  log::set_program("qmail-tcpsrv");
  std::string pid = std::to_string(::getpid());
  // tcpserver(1): the banner goes out before the name lookup, the ident
  // lookup and the rules.
  if (!opt.banner.empty() && !io::write_all(conn.get(), opt.banner).is_ok()) return 111;

  auto local = net::local_endpoint(conn.get());
  auto remote = net::peer_endpoint(conn.get());
  if (!local.is_ok() || !remote.is_ok()) {
    log::warn("unable to get addresses of connection " + pid);
    return 111;
  }
  LazyResolver resolver;
  std::optional<std::string> host;
  if (opt.remote_host) host = remote_host(opt, remote->ip(), resolver);
  net::Connection c{*local, *remote, opt.local_host, host, std::nullopt};
  for (const auto& [name, value] : net::tcp_environ(c)) {
    if (value)
      env::set(name, *value);
    else
      env::unset(name);
  }
  std::string where = unknown_or(c.local_host) + ":" + c.local.ip() + ":" +
                      std::to_string(c.local.port()) + " " + unknown_or(c.remote_host) + ":" +
                      c.remote.ip() + ":" + unknown_or(c.remote_info) + ":" +
                      std::to_string(c.remote.port());
  if (!opt.rules.empty()) {
    auto d = tcprules::lookup(opt.rules, c.remote.ip(), unknown_or(c.remote_host), "",
                              opt.rules_missing_ok);
    if (!d.is_ok()) {
      log::warn("dropping connection, " + d.status().message());
      return 111;
    }
    if (d->has_value()) {
      if (!(*d)->allow) {
        if (opt.verbosity >= 2) log::info("deny " + pid + " " + where);
        return 100;
      }
      for (const auto& [name, value] : (*d)->env) env::set(name, value);
    }
  }
  if (opt.verbosity >= 2) log::info("ok " + pid + " " + where);
  if (opt.nodelay) {
    int one = 1;
    (void)::setsockopt(conn.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  if (!opt.rbl.empty()) {
    // rblsmtpd(1): RBLSMTPD (perhaps set by the rules) decides first.
    std::optional<net::rbl::Decision> d = net::rbl::from_env(std::getenv("RBLSMTPD"));
    if (!d) {
      auto ip = dns::IpAddr::parse(c.remote.ip());
      dns::Resolver* r = resolver.get();
      if (ip && r) d = net::rbl::check(opt.rbl, *ip, net::rbl::dns_lookups(*r));
    }
    if (d && d->block) {
      std::string reply = net::rbl::reply(*d);
      reply.resize(reply.size() - 2);  // CRLF
      if (opt.verbosity >= 1)
        log::info("rbl " + pid + " " + c.remote.ip() + " " + d->source + ": " + reply);
      (void)net::set_timeouts(conn.get(), opt.rbl_timeout);
      std::string me = c.local_host ? *c.local_host : c.local.ip();
      (void)net::rbl::converse(conn.get(), conn.get(), *d, me, opt.rbl_timeout);
      return 0;
    }
  }
  if (::dup2(conn.get(), 0) != 0 || ::dup2(conn.get(), 1) != 1) {
    log::warn("unable to set up descriptors");
    return 111;
  }
  conn.reset();
  std::vector<char*> argv;
  for (const std::string& a : opt.program) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  if (builtin) {
    // Once per process: a worker keeps its name from one connection to
    // the next.
    static const bool named = ::prctl(PR_SET_NAME, "qmail-smtpd") == 0;
    (void)named;
    return run_program("qmail-smtpd", static_cast<int>(argv.size() - 1), argv.data(),
                       smtp::smtpd_main);
  }
  ::execvp(argv[0], argv.data());
  log::warn("unable to run " + opt.program[0] + ": " + std::strerror(errno));
  return 111;
}

// Reused children ("workers"). When the program is our own qmail-smtpd,
// a child that has served a connection tells the listener so over a
// socket pair and waits there for the next connection's descriptor,
// instead of exiting: a fork, the copy-on-write faults of a new process
// and its exit cost about 0.3 ms of CPU per connection here, a sixth of
// all the work of receiving a message. A worker serves at most
// kWorkerSessions connections and is told to go (its socket closed) after
// kWorkerIdle without one.
constexpr unsigned kWorkerSessions = 100;
constexpr std::chrono::seconds kWorkerIdle{30};

// The worker's end of its socket pair, and whether this connection's end
// was already reported.
int g_worker_chan = -1;
bool g_end_reported = false;

// smtp::set_on_session_end's hook: the session ends, its last reply not
// yet sent. The listener hears "ended, status 0" now, before the client
// can read the 221 and connect again; otherwise a client that reconnects
// at once often arrives before the worker's clean-up is done, and the
// listener forks another worker for it (twice the workers, and twice
// their memory, under smtp-source) or refuses it at the -i limit.
void report_session_end() {
  if (g_worker_chan < 0 || g_end_reported) return;
  unsigned char zero = 0;
  g_end_reported = ::write(g_worker_chan, &zero, 1) == 1;
}

// A worker: serves `conn`, then each connection the listener sends on
// `chan`, answering each with its exit code (one byte; at most one per
// connection, perhaps sent early by report_session_end). Between
// connections it is put back as it was before the first (WorkerState:
// nothing of one connection, such as the variables the rules set,
// reaches the next). Never returns.
[[noreturn]] void run_worker(const Options& opt, Fd chan, Fd conn) {
  const int c = chan.get();
  g_worker_chan = c;
  smtp::set_on_session_end(report_session_end);
  child_signals();
  spawn::WorkerState state(c);
  // The same control files for every connection: read once, and again
  // only after a change (home.h).
  state.keep_too(control::enable_cache());
  // One qmail-queue for all the messages of all its connections, where
  // qmail-queue is setuid (queue/serve.h).
  state.keep_too(queue::Submission::enable_server());
  // A serving qmail-queue ends with its caller; reaped here, not left to
  // whoever inherits it.
  auto leave = [](int code) {
    queue::Submission::stop_server();
    ::_exit(code);
  };
  for (unsigned served = 1;; ++served) {
    control::revalidate_cache();
    g_end_reported = false;
    int code = run_connection(opt, std::move(conn), true);
    if (!state.restore()) leave(111);
    unsigned char result = static_cast<unsigned char>(code);
    if (!g_end_reported && ::write(c, &result, 1) != 1) leave(0);
    // Leaving with the last connection's code: reaped before its byte is
    // read, the wait status logs the same.
    if (served >= kWorkerSessions) leave(code);
    std::vector<Fd> got;
    if (!io::recv_with_fds(c, 1, &got) || got.size() != 1) leave(0);
    conn = std::move(got[0]);
  }
}

}  // namespace

Status serve(const Options& opt) {
  QMAIL_ASSIGN_OR_RETURN(std::uint16_t port, net::parse_port(opt.port));
  QMAIL_ASSIGN_OR_RETURN(net::Endpoint at, net::parse_ip(opt.host, port));
  QMAIL_ASSIGN_OR_RETURN(Fd listener, net::listen_tcp(at, opt.backlog));
  QMAIL_ASSIGN_OR_RETURN(net::Endpoint bound, net::local_endpoint(listener.get()));
  // While we may still read it: a setuid qmail-queue is mode 4711.
  queue::Submission::recognize_queue_program();
  if (opt.uid || opt.gid) {
    QMAIL_RETURN_IF_ERROR(priv::become(opt.uid.value_or(::getuid()), opt.gid.value_or(::getgid())));
  }
  // Looked at once: a program replaced later is run as it was found.
  const bool builtin =
      !opt.always_exec && !opt.program.empty() &&
      spawn::carries_mark(spawn::find_program(opt.program[0]), QMAIL_BUILTIN_MARK_SMTPD);
  // Only -h and the RBLs resolve (in the children): then one copy of
  // libunbound, loaded before any fork, serves them all. Otherwise it is
  // never loaded (dns::load_library).
  if (opt.remote_host || !opt.rbl.empty()) {
    if (Status st = dns::load_library(); !st.is_ok()) log::warn("no DNS: " + st.message());
  }
  if (opt.verbosity >= 1) log::info("listening on " + bound.to_string());
  if (opt.print_port) {
    QMAIL_RETURN_IF_ERROR(io::write_all(1, std::to_string(bound.port()) + "\n"));
  }

  int p[2];
  if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) return Status::temp_errno("unable to create pipe");
  Fd sig_r(p[0]), sig_w(p[1]);
  g_sigpipe_w = sig_w.get();
  set_handler(SIGCHLD, on_signal);
  set_handler(SIGTERM, on_signal);

  using Clock = std::chrono::steady_clock;
  // A child serves one connection (exec'd programs) or, as a worker, one
  // after another (our qmail-smtpd; run_worker).
  struct Child {
    std::string ip;  // the connection it serves; empty when idle
    Fd chan;         // workers: the listener's end of the socket pair
    unsigned served = 0;
    Clock::time_point idle_since{};
  };
  std::map<pid_t, Child> children;
  std::vector<pid_t> idle;  // workers waiting, the longest-waiting first
  unsigned busy = 0;        // children serving a connection: -c counts these
  std::map<std::string, unsigned> per_ip;
  Clock::time_point paused_until{};
  auto status_line = [&] {
    if (opt.verbosity >= 2) {
      log::info("status: " + std::to_string(busy) + "/" + std::to_string(opt.limit));
    }
  };
  // A connection ended (its child exited, or its worker said so).
  auto ended = [&](pid_t pid, Child& ch, int wstatus) {
    auto ip = per_ip.find(ch.ip);
    if (ip != per_ip.end() && --ip->second == 0) per_ip.erase(ip);
    ch.ip.clear();
    --busy;
    if (opt.verbosity >= 2) {
      log::info("end " + std::to_string(pid) + " status " + std::to_string(wstatus));
    }
    status_line();
  };
  // A worker is let go: its socket closed, it exits; reaped as usual.
  auto retire = [&](pid_t pid, Child& ch) {
    ch.chan.reset();
    std::erase(idle, pid);
  };
  // A busy worker's socket is readable: its connection's exit code (or
  // its hang-up).
  auto take_report = [&](pid_t pid) {
    Child& ch = children[pid];
    unsigned char code;
    ssize_t n = ::read(ch.chan.get(), &code, 1);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n != 1) {  // it is exiting: waitpid ends its connection
      ch.chan.reset();
      return;
    }
    ended(pid, ch, code << 8);
    if (++ch.served >= kWorkerSessions) {
      ch.chan.reset();  // it exits by itself
    } else {
      ch.idle_since = Clock::now();
      idle.push_back(pid);
    }
  };
  // The busy workers' sockets, added to a poll set.
  auto add_busy = [&](std::vector<pollfd>& fds, std::vector<pid_t>& polled) {
    for (auto& [pid, ch] : children) {
      if (ch.chan.valid() && !ch.ip.empty()) {
        fds.push_back({ch.chan.get(), POLLIN, 0});
        polled.push_back(pid);
      }
    }
  };
  // Every report already sent, without waiting. A worker reports a
  // session's end before the client can read its last reply
  // (report_session_end), so a client that connects again at once finds
  // its report here even when the listener was kept from polling since.
  auto take_reports_now = [&] {
    std::vector<pollfd> fds;
    std::vector<pid_t> polled;
    add_busy(fds, polled);
    if (fds.empty() || ::poll(fds.data(), fds.size(), 0) <= 0) return;
    for (std::size_t k = 0; k < polled.size(); ++k) {
      if (fds[k].revents) take_report(polled[k]);
    }
  };
  status_line();

  while (!g_term) {
    for (;;) {
      int wstatus = 0;
      pid_t pid = ::waitpid(-1, &wstatus, WNOHANG);
      if (pid <= 0) break;
      auto it = children.find(pid);
      if (it == children.end()) continue;
      if (!it->second.ip.empty()) ended(pid, it->second, wstatus);
      std::erase(idle, pid);
      children.erase(it);
    }
    Clock::time_point now = Clock::now();
    while (!idle.empty() && children[idle.front()].idle_since + kWorkerIdle <= now) {
      retire(idle.front(), children[idle.front()]);
    }
    std::vector<pollfd> fds = {{sig_r.get(), POLLIN, 0}, {listener.get(), POLLIN, 0}};
    std::vector<pid_t> polled;
    add_busy(fds, polled);
    int timeout = -1;
    if (!idle.empty()) {
      timeout = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     children[idle.front()].idle_since + kWorkerIdle - now)
                                     .count()) +
                1;
    }
    bool accepting = busy < opt.limit;
    if (accepting && paused_until > now) {
      accepting = false;
      int wait =
          static_cast<int>(
              std::chrono::duration_cast<std::chrono::milliseconds>(paused_until - now).count()) +
          1;
      timeout = timeout < 0 ? wait : std::min(timeout, wait);
    }
    if (!accepting) fds[1].fd = -1;  // poll ignores it
    int r = ::poll(fds.data(), fds.size(), timeout);
    if (r < 0 && errno != EINTR) return Status::temp_errno("poll");
    if (r <= 0) continue;
    if (fds[0].revents) {
      char buf[64];
      while (::read(sig_r.get(), buf, sizeof buf) > 0) {
      }
    }
    for (std::size_t k = 0; k < polled.size(); ++k) {
      if (fds[k + 2].revents) take_report(polled[k]);
    }
    if (!accepting || !(fds[1].revents & POLLIN)) continue;
    while (busy < opt.limit && !g_term) {
      Fd conn(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!conn.valid()) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
        if (errno == ECONNABORTED || errno == EPROTO) continue;
        // EMFILE, ENFILE, ENOBUFS, ENOMEM: wait for children to go away
        // instead of spinning on a ready listener.
        log::warn(std::string("unable to accept: ") + std::strerror(errno) + ", pausing 1 second");
        paused_until = Clock::now() + std::chrono::seconds(1);
        break;
      }
      std::string ip = "unknown";
      if (auto peer = net::peer_endpoint(conn.get()); peer.is_ok()) ip = peer->ip();
      // Before refusing it or forking for it: a worker may have just
      // become free (perhaps the one that served this client last).
      if ((opt.per_ip && per_ip[ip] >= opt.per_ip) || (builtin && idle.empty())) {
        take_reports_now();
      }
      if (opt.per_ip && per_ip[ip] >= opt.per_ip) {
        if (per_ip[ip] == 0) per_ip.erase(ip);
        if (opt.verbosity >= 1)
          log::info("deny per-ip limit " + std::to_string(opt.per_ip) + " from " + ip);
        continue;  // conn closes: refused
      }
      // The most recently idle worker first: its memory is the warmest.
      pid_t pid = -1;
      while (pid < 0 && !idle.empty()) {
        pid_t w = idle.back();
        idle.pop_back();
        const int fd = conn.get();
        if (io::send_with_fds(children[w].chan.get(), "c", std::span(&fd, 1)))
          pid = w;
        else
          children[w].chan.reset();  // gone: reaped later
      }
      if (pid < 0) {
        Fd chan_parent, chan_child;
        if (builtin) {
          int sv[2];
          if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
            log::warn(std::string("unable to create socket pair: ") + std::strerror(errno) +
                      ", pausing 1 second");
            paused_until = Clock::now() + std::chrono::seconds(1);
            break;
          }
          chan_parent.reset(sv[0]);
          chan_child.reset(sv[1]);
          if (chan_child.get() < 3) {  // descriptors 0 and 1 become the connection
            chan_child.reset(::fcntl(chan_child.get(), F_DUPFD_CLOEXEC, 3));
          }
        }
        pid = ::fork();
        if (pid < 0) {
          log::warn(std::string("unable to fork: ") + std::strerror(errno) + ", pausing 1 second");
          paused_until = Clock::now() + std::chrono::seconds(1);
          break;
        }
        if (pid == 0) {
          listener.reset();
          sig_r.reset();
          sig_w.reset();
          chan_parent.reset();
          for (auto& [other, ch] : children) ch.chan.reset();
          if (chan_child.valid()) run_worker(opt, std::move(chan_child), std::move(conn));
          ::_exit(run_connection(opt, std::move(conn), builtin));
        }
        children[pid].chan = std::move(chan_parent);
      }
      children[pid].ip = ip;
      ++busy;
      ++per_ip[ip];
      if (opt.verbosity >= 2) log::info("pid " + std::to_string(pid) + " from " + ip);
      status_line();
    }
  }
  return Status::ok();
}

}  // namespace qmail::tcpsrv
