#include "remote/remote.h"

#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "addr/smtp_path.h"
#include "base/strings.h"
#include "home/home.h"
#include "io/io.h"
#include "remote/conn.h"
#include "remote/data.h"
#include "remote/smtproutes.h"
#include "remote/tcpto.h"
#include "tls/client.h"

namespace qmail::remote {

void order_mx(std::vector<dns::Mx>& mxs, std::mt19937& rng) {
  std::shuffle(mxs.begin(), mxs.end(), rng);
  std::stable_sort(mxs.begin(), mxs.end(),
                   [](const dns::Mx& a, const dns::Mx& b) { return a.pref < b.pref; });
}

Result<std::vector<Target>> choose_targets(const std::vector<MxHost>& hosts, std::uint16_t port,
                                           const std::function<bool(const dns::IpAddr&)>& is_me) {
  std::uint64_t prefme = UINT64_MAX;
  for (const auto& h : hosts) {
    bool me = h.is_me;
    for (const auto& ip : h.ips) me = me || is_me(ip);
    if (me) prefme = std::min<std::uint64_t>(prefme, h.pref);
  }
  std::vector<Target> out;
  for (const auto& h : hosts) {
    if (h.pref >= prefme) continue;
    for (const auto& ip : h.ips) out.push_back(Target{h.pref, ip, port, h.name});
  }
  if (out.empty() && prefme != UINT64_MAX)
    return Status::perm(
        "Sorry. Although I'm listed as a best-preference MX or A for that host,\n"
        "it isn't in my control/locals file, so I don't treat it as local. (#5.4.6)\n");
  return out;
}

std::optional<dns::IpAddr> parse_literal(std::string_view host) {
  if (host.size() < 3 || host.front() != '[' || host.back() != ']') return std::nullopt;
  std::string_view in = host.substr(1, host.size() - 2);
  if (str::istarts_with(in, "ipv6:")) {
    auto ip = dns::IpAddr::parse(in.substr(5));
    if (ip && ip->family == AF_INET6) return ip;
    return std::nullopt;
  }
  return dns::IpAddr::parse(in);
}

std::optional<std::string> tls_destination(const std::vector<std::string>& lines,
                                           std::string_view host) {
  std::string h = str::lower(host);
  auto find = [&](std::string_view key) -> std::optional<std::string> {
    for (const auto& l : lines) {
      std::string_view line = l;
      auto colon = line.find(':');
      if (str::lower(line.substr(0, colon)) == key)
        return std::string(colon == std::string_view::npos ? "" : line.substr(colon + 1));
    }
    return std::nullopt;
  };
  if (auto r = find(h)) return r;
  for (std::size_t i = 0; i < h.size(); ++i)
    if (h[i] == '.')
      if (auto r = find(std::string_view(h).substr(i))) return r;
  return find("");
}

std::vector<dns::IpAddr> local_addresses() {
  std::vector<dns::IpAddr> out = {dns::IpAddr::v4(127, 0, 0, 1), *dns::IpAddr::parse("::1")};
  struct ifaddrs* ifs = nullptr;
  if (::getifaddrs(&ifs) != 0) return out;
  for (auto* i = ifs; i; i = i->ifa_next) {
    if (!i->ifa_addr) continue;
    dns::IpAddr ip;
    if (i->ifa_addr->sa_family == AF_INET) {
      ip.family = AF_INET;
      std::memcpy(ip.bytes.data(), &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, 4);
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      ip.family = AF_INET6;
      std::memcpy(ip.bytes.data(), &reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr, 16);
    } else {
      continue;
    }
    out.push_back(ip);
  }
  ::freeifaddrs(ifs);
  return out;
}

namespace {

// Messages arriving on a pipe (not qmail-rspawn's queue file) are held in
// memory to be scanned and then sent; this bounds that.
constexpr std::size_t kMaxPipedMessage = 256u << 20;
constexpr std::size_t kChunk = 64 * 1024;

// The report on fd 1: recipient records, then one message record.
class Report {
 public:
  void rcpt(char letter, std::string_view text) { add(letter, text); }
  void message(char letter, std::string_view text) { add(letter, text); }
  void append(const Report& other) { out_ += other.out_; }
  const std::string& bytes() const { return out_; }

 private:
  void add(char letter, std::string_view text) {
    out_ += letter;
    for (char c : text) out_ += c == '\0' ? '?' : c;
    out_ += '\0';
  }
  std::string out_;
};

std::string remote_said(const Reply& r) { return "Remote host said: " + r.text() + "\n"; }

bool has_8bit(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) >= 128; });
}

// The message on fd 0: a seekable file (re-read for sending) or a pipe
// (held in memory).
class Message {
 public:
  explicit Message(int fd) : fd_(fd) {}

  Status scan() {
    struct stat st;
    if (::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode)) {
      start_ = ::lseek(fd_, 0, SEEK_CUR);
      seekable_ = start_ >= 0;
    }
    if (!seekable_) {
      QMAIL_ASSIGN_OR_RETURN(mem_, io::read_all(fd_, kMaxPipedMessage));
      scan_.feed(mem_);
      return Status::ok();
    }
    QMAIL_RETURN_IF_ERROR(read_fd([this](std::string_view chunk) {
      scan_.feed(chunk);
      return Status::ok();
    }));
    if (::lseek(fd_, start_, SEEK_SET) != start_) return Status::temp_errno("rewind message");
    return Status::ok();
  }

  // Calls `sink(chunk)` for successive chunks; an empty chunk ends it.
  template <typename F>
  Status each_chunk(F&& sink) {
    if (!seekable_) {
      for (std::size_t i = 0; i < mem_.size(); i += kChunk)
        QMAIL_RETURN_IF_ERROR(sink(std::string_view(mem_).substr(i, kChunk)));
      return Status::ok();
    }
    return read_fd(sink);
  }

  const MessageScan& info() const { return scan_; }

 private:
  // Reads fd_ to its end in kChunk pieces, each given to `fn`.
  template <typename F>
  Status read_fd(F&& fn) {
    std::string buf(kChunk, '\0');
    for (;;) {
      ssize_t n = ::read(fd_, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::temp_errno("read message");
      if (n == 0) return Status::ok();
      QMAIL_RETURN_IF_ERROR(fn(std::string_view(buf.data(), static_cast<std::size_t>(n))));
    }
  }

  int fd_;
  bool seekable_ = false;
  off_t start_ = 0;
  std::string mem_;
  MessageScan scan_;
};

// TLS client contexts by CA file ("" = the system's), made on first use; a
// failed creation is remembered as empty (no opportunistic TLS then). Kept
// sessions' SSL objects refer to these, so they live as long as those.
using ContextCache = std::map<std::string, std::optional<tls::ClientContext>>;

struct Settings {
  std::string helohost;
  int timeoutconnect = 60;
  int timeoutremote = 1200;
  // control/tlsdestinations matched: verified TLS is required, against
  // this CA file ("" = the system's).
  std::optional<std::string> tls_required;
  // STARTTLS may be tried (false: control/notlshosts/<name>, or
  // tlshosts/exhaustivelist without tlshosts/<name>.pem).
  bool tls_allowed = true;
  // control/clientcert.pem exists: present it as our certificate.
  bool client_cert = false;
  // control/tlsclientciphers: OpenSSL's cipher list for TLS 1.2 ("" = ours).
  std::string ciphers;
  ContextCache* contexts = nullptr;
  SSL_CTX* client_ctx() {
    std::string ca = tls_required.value_or("");
    std::string key = ca + (client_cert ? "\n+clientcert" : "") + "\n" + ciphers;
    auto it = contexts->find(key);
    if (it == contexts->end()) {
      std::optional<tls::ClientContext> made;
      auto c = tls::ClientContext::create(ca);
      // The TLS patch's clientcert.pem holds the certificate chain and its
      // key. One that does not load leaves no context: opportunistic TLS
      // is then skipped, required TLS fails temporarily.
      if (c.is_ok() && client_cert) {
        std::string pem = home::path("control/clientcert.pem");
        if (::SSL_CTX_use_certificate_chain_file(c->get(), pem.c_str()) != 1 ||
            ::SSL_CTX_use_PrivateKey_file(c->get(), pem.c_str(), SSL_FILETYPE_PEM) != 1)
          c = Status::temp("clientcert.pem");
      }
      // The TLS patch's tlsclientciphers: TLS 1.2's suites (TLS 1.3 keeps
      // its own); a list that names none leaves no context, so no TLS.
      if (c.is_ok() && !ciphers.empty() &&
          ::SSL_CTX_set_cipher_list(c->get(), ciphers.c_str()) != 1)
        c = Status::temp("tlsclientciphers");
      if (c.is_ok()) made.emplace(std::move(*c));
      it = contexts->emplace(key, std::move(made)).first;
    }
    return it->second ? it->second->get() : nullptr;
  }
};

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// The qmail TLS patch's per-server files (notqmail's qmail-remote(8)),
// named after the server connected to (its MX or relay name, lower case):
// control/tlshosts/<name>.pem requires TLS whose certificate verifies
// against the CAs in that file and names the server (it goes before
// tlsdestinations); control/notlshosts/<name> turns TLS off for that
// server unless that .pem exists; control/tlshosts/exhaustivelist turns it
// off for every server without one.
Settings for_target(const Settings& set, const Target& t) {
  Settings out = set;
  out.client_cert = file_exists(home::path("control/clientcert.pem"));
  std::string name = str::lower(t.name);
  // A name that could leave the directory is looked up nowhere.
  bool usable = !name.empty() && name[0] != '.' && name.find('/') == std::string::npos;
  std::string pem = home::path("control/tlshosts/" + name + ".pem");
  if (usable && file_exists(pem)) {
    out.tls_required = pem;
    return out;
  }
  if (out.tls_required) return out;
  if ((usable && file_exists(home::path("control/notlshosts/" + name))) ||
      file_exists(home::path("control/tlshosts/exhaustivelist")))
    out.tls_allowed = false;
  return out;
}

// kReady: greeted, a transaction may start. kDone: the message record is
// in the report. kRetryPlain: an opportunistic TLS handshake failed before
// anything was reported (try again without TLS). kStale: a kept session
// failed before any recipient was accepted, nothing was reported (try a
// new connection).
enum class Outcome { kReady, kDone, kRetryPlain, kStale };

// What becomes of the connection after a dialogue.
enum class After {
  kDrop,      // broken (I/O error, bad reply, abandoned DATA): just close
  kQuit,      // QUIT (reply not awaited) and close
  kKeep,      // between transactions: the next MAIL may follow
  kKeepRset,  // MAIL was accepted but no DATA followed: RSET first
};

// A failure of the SMTP dialogue that ends it with a message record.
struct Abort {
  char letter;
  std::string text;
};

// Maps an I/O or protocol error during the dialogue with `host`.
Abort dropped(const std::string& host, const Status& s) {
  if (s.err() == ETIMEDOUT)
    return {'Z', "Connected to " + host + " but connection timed out. (#4.4.2)\n"};
  if (s.is_perm())
    return {'Z',
            "Connected to " + host + " but its reply was bad: " + s.message() + ". (#4.4.2)\n"};
  return {'Z', "Connected to " + host + " but connection died. (#4.4.2)\n"};
}

// Greeting, EHLO (or HELO) and STARTTLS on a new connection; `ext` gets
// the server's extensions. Anything but kReady has set `after`.
Outcome greet(Conn& c, const Target& target, Settings& set, bool allow_tls, Report& report,
              Extensions& ext, After& after) {
  const std::string host = target.ip.str();
  const int to = set.timeoutremote;
  auto quit = [&](char letter, std::string text) {
    after = After::kQuit;
    report.message(letter, text);
    return Outcome::kDone;
  };
  auto fail = [&](const Status& s) {
    Abort a = dropped(host, s);
    after = After::kDrop;
    report.message(a.letter, a.text);
    return Outcome::kDone;
  };
  auto rejected = [&](const Reply& r, std::string what) {
    return quit(r.is_perm() ? 'D' : 'Z', what + ".\n" + remote_said(r));
  };
  after = After::kDrop;

  // notqmail's qmail-remote(8): a route to port 465 starts TLS at once,
  // before the greeting; there is no plain text to fall back to.
  if (target.port == kSmtpsPort && !c.tls()) {
    SSL_CTX* ctx = set.client_ctx();
    Status s = ctx ? c.start_tls(ctx, target.name, to) : Status::temp("no TLS context");
    if (!s.is_ok()) {
      report.message('Z',
                     "TLS handshake with " + host + " failed: " + s.message() + ". (#4.7.5)\n");
      return Outcome::kDone;
    }
    if (set.tls_required && !c.tls_verified()) {
      report.message('Z', "Connected to " + host + " but its TLS certificate does not verify for " +
                              target.name + ". (#4.7.5)\n");
      return Outcome::kDone;
    }
  }

  auto greeting = c.read_reply(to);
  if (!greeting.is_ok()) return fail(greeting.status());
  if (!greeting->is_ok())
    return rejected(*greeting, "Connected to " + host + " but greeting failed");

  if (auto s = c.write("EHLO " + set.helohost + "\r\n", to); !s.is_ok()) return fail(s);
  auto ehlo = c.read_reply(to);
  if (!ehlo.is_ok()) return fail(ehlo.status());
  if (ehlo->is_ok()) {
    ext = parse_ehlo(*ehlo);
    if (allow_tls && ext.starttls && !c.tls()) {
      if (auto s = c.write("STARTTLS\r\n", to); !s.is_ok()) return fail(s);
      auto st = c.read_reply(to);
      if (!st.is_ok()) return fail(st.status());
      if (st->code == 220) {
        SSL_CTX* ctx = set.client_ctx();
        if (!ctx) {
          if (set.tls_required)
            return quit('Z', "Unable to set up TLS (control/tlsdestinations). (#4.7.5)\n");
          return Outcome::kRetryPlain;
        }
        if (auto s = c.start_tls(ctx, target.name, to); !s.is_ok()) {
          if (!set.tls_required) return Outcome::kRetryPlain;
          report.message('Z',
                         "TLS handshake with " + host + " failed: " + s.message() + ". (#4.7.5)\n");
          return Outcome::kDone;
        }
        if (set.tls_required && !c.tls_verified())
          return quit('Z', "Connected to " + host +
                               " but its TLS certificate does not verify for " + target.name +
                               ". (#4.7.5)\n");
        // RFC 3207 4.2: forget what was learned before TLS; EHLO again.
        if (auto s = c.write("EHLO " + set.helohost + "\r\n", to); !s.is_ok()) return fail(s);
        auto again = c.read_reply(to);
        if (!again.is_ok()) return fail(again.status());
        if (!again->is_ok())
          return rejected(*again, "Connected to " + host + " but my name was rejected");
        ext = parse_ehlo(*again);
      } else if (set.tls_required) {
        return rejected(*st, "Connected to " + host + " but STARTTLS was refused");
      }
    }
    if (set.tls_required && !c.tls())
      return quit('Z', "Connected to " + host +
                           " but it does not offer STARTTLS, which control/tlsdestinations "
                           "requires. (#4.7.5)\n");
  } else {
    // RFC 5321 3.2: fall back to HELO.
    ext = Extensions{};
    if (auto s = c.write("HELO " + set.helohost + "\r\n", to); !s.is_ok()) return fail(s);
    auto helo = c.read_reply(to);
    if (!helo.is_ok()) return fail(helo.status());
    if (!helo->is_ok())
      return rejected(*helo, "Connected to " + host + " but my name was rejected");
    if (set.tls_required)
      return quit('Z', "Connected to " + host +
                           " but it does not offer STARTTLS, which control/tlsdestinations "
                           "requires. (#4.7.5)\n");
  }
  return Outcome::kReady;
}

// One mail transaction (RFC 5321 3.3) on a greeted connection, from MAIL
// to the reply after the final dot. `reused`: the session carried an
// earlier message (connection reuse); `need_rset`: that one left a
// transaction open. Returns kDone (and sets `after`) or, only when
// `reused` and no recipient was accepted, kStale for a session that died
// or is closing (EOF, I/O error, 421): nothing was delivered then and the
// caller tries a new connection.
Outcome transact(Conn& c, const Extensions& ext, const Target& target, Settings& set,
                 std::string_view sender, std::span<char* const> rcpts, Message& msg,
                 Report& report, bool reused, bool need_rset, After& after) {
  const std::string host = target.ip.str();
  const int to = set.timeoutremote;
  std::size_t accepted = 0;
  bool saw_421 = false;
  auto stale_ok = [&] { return reused && accepted == 0; };
  auto end = [&](char letter, std::string text, After a) {
    // A server that said 421 anywhere is closing the session.
    after = saw_421 && (a == After::kKeep || a == After::kKeepRset) ? After::kQuit : a;
    report.message(letter, text);
    return Outcome::kDone;
  };
  auto fail = [&](const Status& s) {
    if (stale_ok()) return Outcome::kStale;
    Abort a = dropped(host, s);
    return end(a.letter, a.text, After::kDrop);
  };
  // A refusal that ends the transaction; `a` is the session's state then.
  // 421 means the server closes the session (RFC 5321 3.8).
  auto rejected = [&](const Reply& r, std::string what, After a) {
    if (r.code == 421) {
      if (stale_ok()) return Outcome::kStale;
      a = After::kQuit;
    }
    return end(r.is_perm() ? 'D' : 'Z', what + ".\n" + remote_said(r), a);
  };
  After clean = need_rset ? After::kKeepRset : After::kKeep;

  bool utf8 = has_8bit(sender);
  for (char* r : rcpts) utf8 = utf8 || has_8bit(r);
  if (utf8 && !ext.smtputf8)
    return end('D',
               "Connected to " + host +
                   " but it does not offer SMTPUTF8, which these addresses need. (#5.6.7)\n",
               clean);
  std::uint64_t size = msg.info().encoded_size();
  if (ext.size && ext.size_limit > 0 && size > ext.size_limit)
    return end('D',
               "Connected to " + host + " but the message is larger than its limit of " +
                   std::to_string(ext.size_limit) + " bytes. (#5.3.4)\n",
               clean);

  if (need_rset) {
    // The earlier transaction on this session did not complete.
    if (auto s = c.write("RSET\r\n", to); !s.is_ok()) return fail(s);
    auto r = c.read_reply(to);
    if (!r.is_ok()) return fail(r.status());
    if (!r->is_ok()) return Outcome::kStale;  // reused, nothing accepted: a new connection
    clean = After::kKeep;
  }

  // addr::format_path quotes local parts that are no Dot-string, e.g.
  // <"a b"@example.test>, as qmail-smtpd's parser (the same module) reads them.
  std::string mail = "MAIL FROM:" + addr::format_path(sender);
  if (ext.size) mail += " SIZE=" + std::to_string(size);
  if (msg.info().eight_bit() && ext.eightbitmime) mail += " BODY=8BITMIME";
  if (utf8) mail += " SMTPUTF8";
  mail += "\r\n";

  Reply last;
  auto rcpt_reply = [&](const Reply& r) {
    last = r;
    if (r.code == 421) saw_421 = true;
    if (r.is_ok()) {
      ++accepted;
      report.rcpt('r', "");
    } else {
      report.rcpt(r.is_perm() ? 'h' : 's', host + " does not like recipient.\n" + remote_said(r));
    }
  };
  // No recipient accepted after MAIL was: the transaction stays open.
  auto giving_up = [&](After a) {
    if (saw_421) {
      if (stale_ok()) return Outcome::kStale;
      a = After::kQuit;
    }
    return end('D', "Giving up on " + host + ".\n" + remote_said(last), a);
  };

  std::optional<Reply> data_reply;
  if (ext.pipelining) {
    // RFC 2920 3.1: MAIL, RCPTs and DATA in one group; DATA last.
    std::string group = mail;
    for (char* r : rcpts) group += "RCPT TO:" + addr::format_path(r) + "\r\n";
    group += "DATA\r\n";
    if (auto s = c.write(group, to); !s.is_ok()) return fail(s);
    auto m = c.read_reply(to);
    if (!m.is_ok()) return fail(m.status());
    // The RCPT and DATA replies are still unread: the session ends.
    if (!m->is_ok())
      return rejected(*m, "Connected to " + host + " but sender was rejected", After::kQuit);
    for (std::size_t i = 0; i < rcpts.size(); ++i) {
      auto r = c.read_reply(to);
      if (!r.is_ok()) return fail(r.status());
      rcpt_reply(*r);
    }
    auto d = c.read_reply(to);
    if (!d.is_ok()) return fail(d.status());
    data_reply = *d;
    if (d->code == 421) saw_421 = true;
    if (accepted == 0) {
      // A server that said 354 anyway gets an empty message: no
      // recipient is left to receive it.
      if (d->code == 354) {
        if (auto s = c.write(".\r\n", to); !s.is_ok()) return fail(s);
        return giving_up(After::kQuit);
      }
      return giving_up(After::kKeepRset);
    }
  } else {
    if (auto s = c.write(mail, to); !s.is_ok()) return fail(s);
    auto m = c.read_reply(to);
    if (!m.is_ok()) return fail(m.status());
    if (!m->is_ok())
      return rejected(*m, "Connected to " + host + " but sender was rejected", clean);
    for (char* rc : rcpts) {
      if (auto s = c.write("RCPT TO:" + addr::format_path(rc) + "\r\n", to); !s.is_ok())
        return fail(s);
      auto r = c.read_reply(to);
      if (!r.is_ok()) return fail(r.status());
      rcpt_reply(*r);
    }
    if (accepted == 0) return giving_up(After::kKeepRset);
    if (auto s = c.write("DATA\r\n", to); !s.is_ok()) return fail(s);
    auto d = c.read_reply(to);
    if (!d.is_ok()) return fail(d.status());
    data_reply = *d;
  }
  if (data_reply->code != 354) {
    if (data_reply->is_ok())  // 2yz is not "go ahead" either
      return end('Z', host + " failed on DATA command.\n" + remote_said(*data_reply), After::kQuit);
    return rejected(*data_reply, host + " failed on DATA command", After::kKeepRset);
  }

  // The body. The final ".\r\n" leaves in the same write as the last data,
  // so the server's delayed ACK cannot stall the end of DATA.
  DataEncoder enc;
  std::string out;
  out.reserve(kChunk * 2);
  Status io_err;
  Status rs = msg.each_chunk([&](std::string_view chunk) -> Status {
    enc.feed(chunk, out);
    if (out.size() >= kChunk) {
      io_err = c.write(out, to);
      if (!io_err.is_ok()) return io_err;
      out.clear();
    }
    return Status::ok();
  });
  if (!io_err.is_ok()) return fail(io_err);
  if (!rs.is_ok()) {
    // Dropping the connection without the final dot makes the server
    // discard what it got.
    return end('Z', "Unable to read message. (#4.3.0)\n", After::kDrop);
  }
  enc.finish(out);
  if (auto s = c.write(out, to); !s.is_ok()) return fail(s);
  auto fin = c.read_reply(to);
  if (!fin.is_ok()) return fail(fin.status());
  // The reply to the final dot ends the transaction either way.
  if (!fin->is_ok()) return rejected(*fin, host + " failed after I sent the message", After::kKeep);
  std::string via = c.tls() ? " (" + c.tls_version() + ")" : "";
  return end('K', host + " accepted message" + via + ".\n" + remote_said(*fin), After::kKeep);
}

bool is_bad_arg(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

}  // namespace

// A session kept open after a completed transaction, and what it is for.
struct Sessions::Kept {
  Conn conn;
  Target target;
  Extensions ext;
  std::string helohost;
  std::optional<std::string> tls_required;
  std::string domain;
  bool need_rset = false;
  unsigned uses = 0;
  std::chrono::steady_clock::time_point idle_since;

  bool matches(const Target& t, const Settings& set) const {
    return t.ip == target.ip && t.port == target.port &&
           str::lower(t.name) == str::lower(target.name) && helohost == set.helohost &&
           tls_required == set.tls_required;
  }
};

struct Sessions::State {
  ContextCache contexts;  // first: kept sessions' SSL objects use them
  std::vector<std::string> forwarders;
  std::unique_ptr<dns::Resolver> resolver;
  std::optional<Kept> kept;
};

namespace {

// Everything after the arguments: fills `report`. `pool` (connection
// reuse) may hold a kept session and takes the one this delivery leaves.
void deliver(std::string_view host, std::string_view sender, std::span<char* const> rcpts,
             int in_fd, Report& report, Sessions::State* pool) {
  auto zctl = [&] { report.message('Z', "Unable to read control files. (#4.3.0)\n"); };
  ContextCache own_contexts;
  Settings set;
  set.contexts = pool ? &pool->contexts : &own_contexts;
  auto helo = control::read_line_or_me("helohost", "");
  if (!helo.is_ok() || helo->empty()) return zctl();
  set.helohost = *helo;
  auto tc = control::read_uint("timeoutconnect", 60);
  auto tr = control::read_uint("timeoutremote", 1200);
  if (!tc.is_ok() || !tr.is_ok()) return zctl();
  set.timeoutconnect = static_cast<int>(std::min<std::uint64_t>(*tc, 86400));
  set.timeoutremote = static_cast<int>(std::min<std::uint64_t>(*tr, 86400));
  auto route_lines = control::read_lines("smtproutes");
  if (!route_lines.is_ok()) return zctl();
  std::string route_text;
  for (const auto& l : *route_lines) route_text += l + "\n";
  auto routes = SmtpRoutes::parse(route_text);
  if (!routes.is_ok()) return zctl();
  auto forwarders = control::read_lines("dnsresolvers");
  if (!forwarders.is_ok()) return zctl();
  auto tlsdest = control::read_lines("tlsdestinations");
  if (!tlsdest.is_ok()) return zctl();
  set.tls_required = tls_destination(*tlsdest, host);
  auto ciphers = control::read_line("tlsclientciphers");
  if (!ciphers.is_ok()) return zctl();
  set.ciphers = ciphers->value_or("");
  auto me = control::me();
  if (!me.is_ok()) return zctl();
  std::string me_name = str::lower(me->value_or(""));

  Message msg(in_fd);
  if (!msg.scan().is_ok()) return report.message('Z', "Unable to read message. (#4.3.0)\n");

  std::unique_ptr<dns::Resolver> own_resolver;
  dns::Resolver* resolver = nullptr;
  auto get_resolver = [&]() -> Status {
    if (resolver) return Status::ok();
    if (pool && pool->resolver && pool->forwarders == *forwarders) {
      resolver = pool->resolver.get();
      return Status::ok();
    }
    QMAIL_ASSIGN_OR_RETURN(own_resolver, dns::Resolver::create(*forwarders));
    resolver = own_resolver.get();
    if (pool) {
      pool->resolver = std::move(own_resolver);
      pool->forwarders = *forwarders;
    }
    return Status::ok();
  };

  auto dns_temp = [&] {
    report.message('Z', "Sorry, I couldn't find any host by that name. (#4.1.2)\n");
  };
  // A failed lookup of `name`: permanent (no such host) or temporary.
  auto dns_failed = [&](const Status& s, std::string_view name) {
    if (!s.is_perm()) return dns_temp();
    report.message('D',
                   "Sorry, I couldn't find any host named " + std::string(name) + ". (#5.1.2)\n");
  };

  std::vector<MxHost> hosts;
  std::uint16_t port = kSmtpPort;
  bool check_self = true;
  auto route = routes->find(host);
  if (route) port = route->port;
  std::mt19937 rng(std::random_device{}());

  if (route && !route->relay.empty()) {
    // qmail-remote(8): as if `host` had `relay` as its only MX. The admin
    // chose this route; loops through it are the admin's to avoid, so
    // our own addresses are allowed (e.g. a filter on 127.0.0.1:10025).
    check_self = false;
    MxHost h;
    h.name = route->relay;
    // qmail's dns_ip takes a dotted quad without brackets as an address
    // too ("example.com:192.0.2.1"); a name is never all digits and dots.
    auto dotted = dns::IpAddr::parse(route->relay);
    if (dotted && dotted->family != AF_INET) dotted.reset();
    if (auto lit = parse_literal(route->relay)) {
      h.ips.push_back(*lit);
    } else if (dotted) {
      h.ips.push_back(*dotted);
    } else {
      if (!get_resolver().is_ok()) return dns_temp();
      auto ips = resolver->ip(route->relay);
      if (!ips.is_ok()) return dns_failed(ips.status(), route->relay);
      h.ips = *ips;
    }
    hosts.push_back(std::move(h));
  } else if (auto lit = parse_literal(host)) {
    MxHost h;
    h.name = std::string(host);
    h.ips.push_back(*lit);
    hosts.push_back(std::move(h));
  } else {
    if (!get_resolver().is_ok()) return dns_temp();
    auto mxs = resolver->mx(host);
    if (!mxs.is_ok()) return dns_failed(mxs.status(), host);
    // RFC 7505 3: a null MX ("MX 0 .") says the domain takes no mail.
    for (const auto& m : *mxs)
      if (m.host.empty())
        return report.message(
            'D', "Sorry, " + std::string(host) + " does not accept mail (null MX). (#5.1.10)\n");
    if (mxs->empty()) {
      // RFC 5321 5.1: no MX, so the host itself, as if MX 0.
      auto ips = resolver->ip(host);
      if (!ips.is_ok()) return dns_failed(ips.status(), host);
      MxHost h;
      h.name = str::lower(host);
      h.ips = *ips;
      h.is_me = h.name == me_name || h.name == "localhost";
      hosts.push_back(std::move(h));
    } else {
      order_mx(*mxs, rng);
      bool any_temp = false;
      for (const auto& m : *mxs) {
        MxHost h;
        h.pref = m.pref;
        h.name = m.host;
        h.is_me = m.host == me_name || m.host == "localhost";
        auto ips = resolver->ip(m.host);
        if (ips.is_ok())
          h.ips = *ips;
        else if (ips.status().is_temp())
          any_temp = true;
        hosts.push_back(std::move(h));
      }
      bool any_ip =
          std::any_of(hosts.begin(), hosts.end(), [](const MxHost& h) { return !h.ips.empty(); });
      if (!any_ip && any_temp) return dns_temp();
    }
  }

  std::vector<Target> targets;
  if (check_self) {
    auto mine = local_addresses();
    auto is_me = [&](const dns::IpAddr& ip) {
      return std::find(mine.begin(), mine.end(), ip) != mine.end();
    };
    auto t = choose_targets(hosts, port, is_me);
    if (!t.is_ok()) return report.message('D', t.status().message());
    targets = std::move(*t);
  } else {
    auto t = choose_targets(hosts, port, [](const dns::IpAddr&) { return false; });
    if (t.is_ok()) targets = std::move(*t);
  }
  if (targets.empty())
    return report.message('D', "Sorry, I couldn't find a mail exchanger or IP address. (#5.4.4)\n");

  std::string tcpto_path = home::path("queue/lock/tcpto");
  const std::string domain = str::lower(host);
  // What to do with a connection whose dialogue is over. `uses` counts the
  // messages it has carried.
  auto finish = [&](Conn&& c, const Target& t, const Settings& tset, const Extensions& ext,
                    After after, unsigned uses) {
    if (after == After::kDrop) return;
    if (pool && after == After::kKeepRset && uses < kSessionMaxMessages) {
      // Close the open transaction now, not at the next message: the
      // server forgets it at once (RFC 5321 4.1.1.5).
      after = After::kQuit;
      if (c.write("RSET\r\n", tset.timeoutremote).is_ok()) {
        auto r = c.read_reply(tset.timeoutremote);
        if (!r.is_ok()) return;
        if (r->is_ok()) after = After::kKeep;
      }
    }
    if (pool && (after == After::kKeep || after == After::kKeepRset) &&
        uses < kSessionMaxMessages) {
      if (pool->kept) {
        // One session per worker: the older one makes way.
        (void)pool->kept->conn.write("QUIT\r\n", kSessionQuitSeconds);
        pool->kept.reset();
      }
      pool->kept.emplace(Sessions::Kept{std::move(c), t, ext, tset.helohost, tset.tls_required,
                                        domain, after == After::kKeepRset, uses,
                                        std::chrono::steady_clock::now()});
      return;
    }
    // qmail-remote(8)'s habit: do not wait for QUIT's reply.
    (void)c.write("QUIT\r\n", pool ? kSessionQuitSeconds : tset.timeoutremote);
  };

  // A kept session to one of the targets goes first within its preference
  // group (equal preferences are in random order anyway).
  if (pool && pool->kept) {
    auto it = std::find_if(targets.begin(), targets.end(), [&](const Target& t) {
      return pool->kept->matches(t, for_target(set, t));
    });
    if (it != targets.end()) {
      auto first =
          std::find_if(targets.begin(), it, [&](const Target& t) { return t.pref == it->pref; });
      std::rotate(first, it, it + 1);
    }
  }

  for (const auto& t : targets) {
    Settings tset = for_target(set, t);
    if (pool && pool->kept && pool->kept->matches(t, tset)) {
      Sessions::Kept k = std::move(*pool->kept);
      pool->kept.reset();
      if (k.conn.idle_ok()) {
        // Records of this attempt count only if it was not stale.
        Report attempt;
        After after = After::kDrop;
        if (transact(k.conn, k.ext, t, tset, sender, rcpts, msg, attempt, true, k.need_rset,
                     after) == Outcome::kDone) {
          report.append(attempt);
          finish(std::move(k.conn), t, tset, k.ext, after, k.uses + 1);
          return;
        }
      }
      // The kept session was closed or closing before any recipient was
      // accepted, so nothing was delivered on it: a new connection.
    }
    auto down = tcpto_file_is_down(tcpto_path, t.ip);
    if (down.is_ok() && *down) continue;
    auto conn = Conn::open(t.ip, t.port, set.timeoutconnect);
    // qmail-tcpto(8): only timeouts count; anything else clears.
    (void)tcpto_file_record(tcpto_path, t.ip, !conn.is_ok() && conn.status().err() == ETIMEDOUT);
    if (!conn.is_ok()) continue;
    Extensions ext;
    After after = After::kDrop;
    Outcome o = greet(*conn, t, tset, tset.tls_allowed, report, ext, after);
    if (o == Outcome::kReady)
      o = transact(*conn, ext, t, tset, sender, rcpts, msg, report, false, false, after);
    if (o == Outcome::kDone) return finish(std::move(*conn), t, tset, ext, after, 1);
    // Opportunistic TLS failed: the same server again, in plain text.
    auto plain = Conn::open(t.ip, t.port, set.timeoutconnect);
    if (!plain.is_ok()) continue;
    o = greet(*plain, t, tset, false, report, ext, after);
    if (o == Outcome::kReady)
      o = transact(*plain, ext, t, tset, sender, rcpts, msg, report, false, false, after);
    if (o == Outcome::kDone) finish(std::move(*plain), t, tset, ext, after, 1);
    return;
  }
  report.message('Z', "Sorry, I wasn't able to establish an SMTP connection. (#4.4.1)\n");
}

}  // namespace

Sessions::Sessions() : state_(std::make_unique<State>()) {}

Sessions::~Sessions() { close(); }

std::string Sessions::deliver(std::string_view host, std::string_view sender,
                              std::span<char* const> rcpts, int in_fd) {
  Report report;
  bool bad = is_bad_arg(host) || is_bad_arg(sender);
  for (char* r : rcpts) bad = bad || is_bad_arg(r);
  if (bad)
    report.message('D', "Sorry, an address contains a line break. (#5.1.3)\n");
  else if (rcpts.empty())
    report.message('D', "Sorry, I was invoked improperly. (#5.3.5)\n");
  else
    qmail::remote::deliver(host, sender, rcpts, in_fd, report, state_.get());
  return report.bytes();
}

int Sessions::fd() const { return state_->kept ? state_->kept->conn.fd() : -1; }

std::string Sessions::domain() const { return state_->kept ? state_->kept->domain : ""; }

std::optional<std::chrono::steady_clock::time_point> Sessions::expires() const {
  if (!state_->kept) return std::nullopt;
  return state_->kept->idle_since + std::chrono::seconds(kSessionIdleSeconds);
}

void Sessions::close(bool quit) {
  if (!state_ || !state_->kept) return;
  if (quit) (void)state_->kept->conn.write("QUIT\r\n", kSessionQuitSeconds);
  state_->kept.reset();
}

int run(std::span<char*> args, int in_fd, int out_fd) {
  Report report;
  // qmail-remote(8): "always exits zero", even when invoked improperly;
  // the report says what happened.
  if (args.size() < 4) {
    report.message('D', "Sorry, I was invoked improperly. (#5.3.5)\n");
  } else {
    bool bad = false;
    for (std::size_t i = 1; i < args.size(); ++i) bad = bad || is_bad_arg(args[i]);
    if (bad)
      report.message('D', "Sorry, an address contains a line break. (#5.1.3)\n");
    else
      deliver(args[1], args[2], args.subspan(3), in_fd, report, nullptr);
  }
  (void)io::write_all(out_fd, report.bytes());
  return 0;
}

int remote_main(std::span<char*> args) { return run(args, 0, 1); }

}  // namespace qmail::remote
