#include "smtp/session.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <vector>

#include "addr/smtp_path.h"
#include "base/exit_codes.h"
#include "base/kept.h"
#include "base/log.h"
#include "base/scope_guard.h"
#include "base/strings.h"
#include "fs/fs.h"
#include "home/home.h"
#include "queue/enqueue.h"
#include "queue/inject.h"
#include "smtp/channel.h"
#include "smtp/command.h"
#include "smtp/data.h"
#include "smtp/limits.h"

namespace qmail::smtp {

namespace {

constexpr std::string_view kNotInRcptHosts =
    "553 5.7.1 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)\r\n";

bool safe_char(char c) {
  // qmail's Received line keeps these; we also keep '_' (common in HELO).
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_' || c == ':' || c == '+' || c == '=' || c == '@' || c == '%' ||
         c == '/';
}

std::string safe(std::string_view s) {
  std::string out;
  if (s.size() > kMaxHelo) s = s.substr(0, kMaxHelo);
  for (char c : s) out.push_back(safe_char(c) ? c : '?');
  return out;
}

const char* getenv_or(const char* name, const char* def) {
  const char* v = std::getenv(name);
  return v ? v : def;
}

class Session {
 public:
  Session(Config& c, int rfd, int wfd)
      : c_(c),
        ch_(rfd, wfd, c.timeout,
            std::time(nullptr) + static_cast<std::time_t>(kMaxSessionSeconds)) {}

  Status run();

 private:
  // Returns false when the session must end.
  bool dispatch(std::string_view line);
  void reply(std::string_view r) { ch_.put(r); }
  // Counts an error; false when there were too many.
  bool error(std::string_view r);
  void reset_tx() {
    has_mail_ = false;
    sender_.clear();
    rcpts_.clear();
    rcpt_tried_ = false;
    barf_ = false;
    smtputf8_ = false;
  }
  bool relay_ok() const {
    if (c_.relayclient.has_value()) return true;
    if (!ch_.tls() || !ch_.tls()->client_verified()) return false;
    if (!c_.tlsclients) return true;
    for (const std::string& email : ch_.tls()->client_emails())
      if (std::find(c_.tlsclients->begin(), c_.tlsclients->end(), str::lower(email)) !=
          c_.tlsclients->end())
        return true;
    return false;
  }
  bool helo(std::string_view arg, bool ehlo);
  bool mail(std::string_view arg);
  bool rcpt(std::string_view arg);
  bool data();
  bool starttls(std::string_view arg);
  std::string proto() const;
  void timeout_exit();

  Config& c_;
  Channel ch_;
  std::string helo_;
  bool esmtp_ = false;
  bool has_mail_ = false;
  bool rcpt_tried_ = false;  // some RCPT was given in this transaction
  bool barf_ = false;
  bool smtputf8_ = false;
  std::string sender_;
  std::vector<std::string> rcpts_;
  unsigned errors_ = 0;
};

bool Session::error(std::string_view r) {
  reply(r);
  if (++errors_ >= kMaxErrors) {
    reply("421 4.7.0 too many errors, closing connection (#4.7.0)\r\n");
    return false;
  }
  return true;
}

std::string Session::proto() const {
  if (ch_.in_tls()) return smtputf8_ ? "UTF8SMTPS" : "ESMTPS";
  if (!esmtp_) return "SMTP";
  return smtputf8_ ? "UTF8SMTP" : "ESMTP";
}

void Session::timeout_exit() {
  // RFC 5321 3.8 / 4.2.3: 421 when the server closes the channel (qmail
  // said 451 here).
  reply("421 4.4.2 timeout (#4.4.2)\r\n");
  (void)ch_.flush();
}

bool Session::helo(std::string_view arg, bool ehlo) {
  std::string_view name = str::trim(arg);
  // RFC 5321 4.1.1.1: HELO and EHLO take a domain or address literal.
  if (name.empty())
    return error(ehlo ? "501 5.5.4 syntax: EHLO hostname (#5.5.4)\r\n"
                      : "501 5.5.4 syntax: HELO hostname (#5.5.4)\r\n");
  reset_tx();
  helo_.assign(name.substr(0, kMaxHelo));
  esmtp_ = ehlo;
  // qmail-smtpd answers HELO, EHLO and QUIT with smtpgreeting, whose first
  // word is the host's name (RFC 5321 4.1.1.1: "250 Domain [greeting]").
  if (!ehlo) {
    reply("250 " + c_.greeting + "\r\n");
    return true;
  }
  std::string r = "250-" + c_.greeting + "\r\n250-PIPELINING\r\n250-8BITMIME\r\n";
  r += "250-SIZE " + std::to_string(c_.databytes) + "\r\n";
  r += "250-ENHANCEDSTATUSCODES\r\n";
  if (c_.tls && !ch_.in_tls()) r += "250-STARTTLS\r\n";
  r += "250 SMTPUTF8\r\n";
  reply(r);
  return true;
}

bool Session::mail(std::string_view arg) {
  if (has_mail_) return error("503 5.5.1 MAIL already given (#5.5.1)\r\n");
  auto p = addr::parse_path(arg);
  if (!p.is_ok())
    return error("501 5.1.7 bad sender address syntax: " + p.status().message() + " (#5.1.7)\r\n");
  MailParams params;
  if (!str::trim(p->rest).empty()) {
    if (!esmtp_) return error("555 5.5.4 parameters need EHLO (#5.5.4)\r\n");
    bool unknown = false;
    auto mp = parse_mail_params(p->rest, &unknown);
    if (!mp.is_ok()) {
      // RFC 5321 4.2.2: 555 for a parameter we do not know, 501 for a
      // known one with a bad value (RFC 1870 size-value, RFC 6152 BODY).
      int code = unknown ? 555 : 501;
      return error(std::to_string(code) + " 5.5.4 " + mp.status().message() + " (#5.5.4)\r\n");
    }
    params = *mp;
  }
  // RFC 1870 6.1: refuse at once what would exceed databytes.
  if (params.size && *params.size > c_.databytes) {
    reply("552 5.3.4 sorry, that message size exceeds my databytes limit (#5.3.4)\r\n");
    return true;
  }
  if (p->path.eight_bit && !params.smtputf8)
    return error("553 5.6.7 non-ASCII address needs SMTPUTF8 (#5.6.7)\r\n");
  sender_ = p->path.address();
  barf_ = c_.badmailfrom.matches(sender_);
  smtputf8_ = params.smtputf8;
  has_mail_ = true;
  reply("250 2.1.0 ok\r\n");
  return true;
}

bool Session::rcpt(std::string_view arg) {
  if (!has_mail_) return error("503 5.5.1 MAIL first (#5.5.1)\r\n");
  rcpt_tried_ = true;
  auto p = addr::parse_path(arg);
  if (!p.is_ok())
    return error("501 5.1.3 bad recipient address syntax: " + p.status().message() +
                 " (#5.1.3)\r\n");
  if (!check_rcpt_params(p->rest).is_ok())
    return error("555 5.5.4 unsupported parameter (#5.5.4)\r\n");
  addr::EnvelopePath& path = p->path;
  // RFC 5321 4.1.2: a Forward-path is never empty.
  if (path.null) return error("501 5.1.3 empty recipient address (#5.1.3)\r\n");
  if (barf_)
    return error("553 5.7.1 sorry, your envelope sender is in my badmailfrom list (#5.7.1)\r\n");
  if (path.eight_bit && !smtputf8_)
    return error("553 5.6.7 non-ASCII address needs SMTPUTF8 (#5.6.7)\r\n");
  if (rcpts_.size() >= c_.maxrcpt) {
    reply("452 4.5.3 too many recipients (#4.5.3)\r\n");
    return true;
  }
  // qmail-smtpd(8) localiphost: box@[local IP] means box@localiphost,
  // before rcpthosts is consulted.
  if (path.literal && c_.localips.is_local_literal(path.domain)) {
    path.domain = c_.localiphost;
    path.literal = false;
  }
  if (!relay_ok()) {
    // Our addition to qmail's rule: without RELAYCLIENT no local part may
    // carry a percent hack, bang path or quoted '@', so no such address
    // can turn into relaying later (control/percenthack, a gateway).
    if (path.local.find_first_of("%!@") != std::string::npos) return error(kNotInRcptHosts);
    if (!path.domain.empty()) {
      auto ok = c_.rcpthosts.allows(path.domain);
      if (!ok.is_ok()) {
        log::warn(ok.status().message());
        reply("451 4.3.0 unable to read controls (#4.3.0)\r\n");
        return true;
      }
      if (!*ok) return error(kNotInRcptHosts);
    }
    // Recipient validation (docs/smtpd.md): only for mail that is not
    // relayed; a relaying client's remote recipients are not ours to know.
    if (c_.recipients.enabled()) {
      auto known =
          c_.recipients.accepts(path.local, path.domain.empty() ? c_.envnoathost : path.domain);
      if (!known.is_ok()) {
        log::warn(known.status().message());
        reply("451 4.3.0 unable to read controls (#4.3.0)\r\n");
        return true;
      }
      if (!*known) return error("550 5.1.1 sorry, no mailbox here by that name (#5.1.1)\r\n");
    }
  }
  // qmail-smtpd(8): RELAYCLIENT is appended to the address as given, so
  // RCPT TO:<box> with RELAYCLIENT=@host means box@host. Addresses still
  // without @ are always allowed; they mean the local host (qmail-send's
  // envnoathost), so we say so in the envelope.
  std::string address = path.domain.empty() ? path.local : path.address();
  bool has_domain = !path.domain.empty();
  if (c_.relayclient) {
    address += *c_.relayclient;
    has_domain = has_domain || c_.relayclient->find('@') != std::string::npos;
  }
  if (!has_domain) address += "@" + c_.envnoathost;
  rcpts_.push_back(std::move(address));
  reply("250 2.1.5 ok\r\n");
  return true;
}

bool Session::data() {
  if (!has_mail_) return error("503 5.5.1 MAIL first (#5.5.1)\r\n");
  // RFC 5321 3.3: 503 when no RCPT was given, 554 when all were refused.
  if (rcpts_.empty())
    return error(rcpt_tried_ ? "554 5.5.1 no valid recipients (#5.5.1)\r\n"
                             : "503 5.5.1 RCPT first (#5.5.1)\r\n");
  auto sub = queue::Submission::start();
  if (!sub.is_ok()) {
    log::warn("unable to start qmail-queue: " + sub.status().message());
    reply("451 4.3.0 qqt failure (#4.3.0)\r\n");
    return true;
  }
  std::time_t now = std::time(nullptr);
  bool qq_ok = sub->put(received_line(helo_, c_.remotehost, c_.remoteinfo, c_.remoteip,
                                      c_.localhost, proto(), now))
                   .is_ok();
  reply("354 go ahead\r\n");
  DataReader reader(c_.databytes);
  // The same buffer for every message of the worker (base/kept.h).
  static Kept<std::string> kept_out;
  std::string out = kept_out.take();
  out.reserve(kInputBuffer);
  ScopeGuard give_back([&] { kept_out.give(std::move(out)); });
  while (reader.state() == DataReader::State::kMore) {
    auto in = ch_.peek_some();
    if (!in.is_ok()) {
      if (ch_.timed_out()) timeout_exit();
      return false;
    }
    if (in->empty()) return false;  // EOF: nothing is queued
    out.clear();
    std::size_t n = reader.feed(*in, out);
    ch_.consume(n);
    if (qq_ok && !out.empty()) qq_ok = sub->put(out).is_ok();
  }
  if (reader.state() == DataReader::State::kBareLf) {
    // qmail-smtpd(8): a temporary error, and the connection is dropped.
    reply("451 4.6.0 See https://cr.yp.to/docs/smtplf.html (#4.6.0)\r\n");
    return false;
  }
  std::vector<std::string> rcpts = std::move(rcpts_);
  std::string sender = std::move(sender_);
  reset_tx();
  if (reader.too_big()) {
    reply("552 5.3.4 sorry, that message size exceeds my databytes limit (#5.3.4)\r\n");
    return true;  // the Submission dies unfinished: nothing is queued
  }
  if (reader.hops() >= kMaxHops) {
    reply("554 5.4.6 too many hops, this message is looping (#5.4.6)\r\n");
    return true;
  }
  pid_t qp = sub->pid();  // qmail-log(5) "qp": gone after finish()
  auto code = sub->finish(sender, rcpts);
  if (!code.is_ok()) {
    log::warn("qmail-queue: " + code.status().message());
    reply("451 4.3.0 qq crashed (#4.3.0)\r\n");
    return true;
  }
  if (*code != 0) {
    auto no = sub->refusal(*code);
    reply(format_reply(no.perm ? 554 : 451, no.text));
    return true;
  }
  // qmail-smtpd's "250 ok <time> qp <pid of qmail-queue>".
  reply("250 2.0.0 ok " + std::to_string(now) + " qp " + std::to_string(qp) + "\r\n");
  return true;
}

bool Session::starttls(std::string_view arg) {
  if (!c_.tls) return error("454 4.7.0 TLS not available (#4.7.0)\r\n");
  if (ch_.in_tls()) return error("503 5.5.1 already in TLS (#5.5.1)\r\n");
  if (!str::trim(arg).empty()) return error("501 5.5.4 no parameters allowed (#5.5.4)\r\n");
  reply("220 2.0.0 ready to start TLS\r\n");
  Status s = ch_.start_tls(*c_.tls);
  if (!s.is_ok()) {
    log::warn("TLS handshake with " + c_.remoteip + " failed: " + s.message());
    return false;
  }
  // RFC 3207 4.2: the client must start over with EHLO.
  reset_tx();
  helo_.clear();
  esmtp_ = false;
  return true;
}

bool Session::dispatch(std::string_view line) {
  Command cmd = parse_command(line);
  switch (cmd.verb) {
    case Verb::kHelo:
      return helo(cmd.arg, false);
    case Verb::kEhlo:
      return helo(cmd.arg, true);
    case Verb::kMail:
      if (cmd.bad_syntax) return error("501 5.5.4 syntax: MAIL FROM:<address> (#5.5.4)\r\n");
      return mail(cmd.arg);
    case Verb::kRcpt:
      // Out of sequence first, as qmail-smtpd: "503 MAIL first".
      if (cmd.bad_syntax && has_mail_)
        return error("501 5.5.4 syntax: RCPT TO:<address> (#5.5.4)\r\n");
      return rcpt(cmd.arg);
    case Verb::kData:
      return data();
    case Verb::kRset:
      reset_tx();
      reply("250 2.0.0 flushed\r\n");
      return true;
    case Verb::kNoop:
      reply("250 2.0.0 ok\r\n");
      return true;
    case Verb::kVrfy:
      reply("252 2.1.5 send some mail, i'll try my best\r\n");
      return true;
    case Verb::kHelp:
      reply("214 2.0.0 qmail home page: https://cr.yp.to/qmail.html\r\n");
      return true;
    case Verb::kQuit:
      reply("221 2.0.0 " + c_.greeting + "\r\n");
      return false;
    case Verb::kStartTls:
      return starttls(cmd.arg);
    case Verb::kEmpty:
    case Verb::kUnknown:
      break;
  }
  return error("502 5.5.1 unimplemented (#5.5.1)\r\n");
}

Status Session::run() {
  if (c_.smtps) {
    if (!c_.tls) return Status::temp("SMTPS is set but control/servercert.pem is not usable");
    Status s = ch_.start_tls(*c_.tls);
    if (!s.is_ok()) {
      log::warn("TLS handshake with " + c_.remoteip + " failed: " + s.message());
      return Status::ok();
    }
  }
  reply("220 " + c_.greeting + " ESMTP\r\n");
  while (true) {
    bool too_long = false;
    auto line = ch_.read_line(&too_long);
    if (!line.is_ok()) {
      if (ch_.timed_out()) timeout_exit();
      break;
    }
    bool go_on;
    if (too_long)
      go_on = error("500 5.5.2 line too long (#5.5.2)\r\n");
    else
      go_on = dispatch(*line);
    if (!go_on) break;
  }
  if (detail::g_on_session_end) detail::g_on_session_end();
  ch_.close();
  return Status::ok();
}

}  // namespace

std::string format_reply(int code, std::string_view text, bool enhanced) {
  std::string esc;
  std::size_t h = text.find("(#");
  if (h != std::string_view::npos) {
    std::size_t e = text.find(')', h);
    if (e != std::string_view::npos) esc.assign(text.substr(h + 2, e - h - 2));
  }
  // RFC 3463: class.subject.detail, the class the reply's own (text from
  // elsewhere, e.g. a $QMAILQUEUE program's, may say anything).
  auto valid = [code](std::string_view c) {
    if (c.size() < 5 || c[0] != static_cast<char>('0' + code / 100) || c[1] != '.') return false;
    std::size_t dot = c.find('.', 2);
    if (dot == std::string_view::npos || dot == 2 || dot > 5 || dot + 1 == c.size() ||
        c.size() - dot - 1 > 3)
      return false;
    for (std::size_t i = 2; i < c.size(); ++i)
      if (i != dot && (c[i] < '0' || c[i] > '9')) return false;
    return true;
  };
  if (!valid(esc)) esc = std::to_string(code / 100) + ".0.0";
  std::string out;
  std::vector<std::string_view> lines = str::split(text, '\n');
  for (std::size_t i = 0; i < lines.size(); ++i) {
    out += std::to_string(code);
    out += i + 1 < lines.size() ? '-' : ' ';
    if (enhanced) out += esc + " ";
    out.append(lines[i]);
    out += "\r\n";
  }
  return out;
}

std::string received_line(std::string_view helo, std::string_view remotehost,
                          std::string_view remoteinfo, std::string_view remoteip,
                          std::string_view local, std::string_view proto, std::time_t now) {
  std::string r = "Received: from ";
  r += safe(remotehost);
  if (!helo.empty() && !str::iequals(helo, remotehost)) r += " (HELO " + safe(helo) + ")";
  r += " (";
  if (!remoteinfo.empty()) r += safe(remoteinfo) + "@";
  r += safe(remotehost) + " [" + safe(remoteip) + "])\n  by " + safe(local) + " with ";
  r += proto;
  r += "; " + queue::date822(now) + "\n";
  return r;
}

Result<std::uint64_t> load_databytes() {
  std::uint64_t databytes;
  if (const char* env = std::getenv("DATABYTES")) {
    // Set but empty is 0, as qmail-smtpd reads it (tcprules' DATABYTES="").
    auto n = env[0] == '\0' ? std::optional<std::uint64_t>(0) : str::parse_uint(env);
    if (!n) return Status::temp("bad $DATABYTES (#4.3.0)");
    databytes = *n;
  } else {
    QMAIL_ASSIGN_OR_RETURN(databytes, control::read_uint("databytes", kDefaultDatabytes));
  }
  // qmail's 0 ("no limit") becomes our finite ceiling.
  if (databytes == 0 || databytes > kMaxDatabytes) databytes = kMaxDatabytes;
  return databytes;
}

namespace {

// The TLS context from control/servercert.pem (and clientca.pem,
// clientcrl.pem). A reused worker loads it once and shares it with later
// connections while nothing in control/ changed (control::enable_cache)
// and the cipher choice is the same; parsing the certificate and key
// again cost more than the rest of a session. Never kept when one of the
// files is a symbolic link (a renewed certificate behind a link to
// /etc/letsencrypt, say, changes nothing in control/).
Result<tls::ServerContext> server_context(const std::string& cert, const std::string& ciphers) {
  struct Kept {
    std::uint64_t generation = 0;
    std::string ciphers;
    std::optional<tls::ServerContext> ctx;
  };
  static Kept kept;
  const std::string ca = home::path("control/clientca.pem");
  const std::string crl = home::path("control/clientcrl.pem");
  const std::uint64_t generation = control::cache_generation();
  if (kept.ctx && kept.generation == generation && kept.ciphers == ciphers)
    return kept.ctx->share();
  kept.ctx.reset();
  QMAIL_ASSIGN_OR_RETURN(tls::ServerContext ctx, tls::ServerContext::load(cert, ca, crl, ciphers));
  bool links = false;
  for (const std::string* p : {&cert, &ca, &crl}) {
    struct stat st;
    if (::lstat(p->c_str(), &st) == 0 && S_ISLNK(st.st_mode)) links = true;
  }
  if (!links) {
    kept.generation = generation;
    kept.ciphers = ciphers;
    kept.ctx = ctx.share();
  }
  return ctx;
}

}  // namespace

Result<Config> load_config() {
  Config c;
  // qmail-smtpd(8) smtpgreeting: "Default: me, if that is supplied;
  // otherwise qmail-smtpd will refuse to run." Without me, the greeting's
  // first word (the host's name) stands in for it.
  QMAIL_ASSIGN_OR_RETURN(auto me, control::me());
  QMAIL_ASSIGN_OR_RETURN(auto greeting, control::read_line("smtpgreeting"));
  if (greeting && !greeting->empty())
    c.greeting = *greeting;
  else if (me && !me->empty())
    c.greeting = *me;
  else
    return Status::temp("control/me and control/smtpgreeting are missing (#4.3.0)");
  c.me = me && !me->empty() ? *me : c.greeting.substr(0, c.greeting.find(' '));
  // Both default to me (already read: c.me is it, or the greeting's host).
  QMAIL_ASSIGN_OR_RETURN(c.localiphost, control::read_line_or("localiphost", c.me));
  QMAIL_ASSIGN_OR_RETURN(c.envnoathost, control::read_line_or("envnoathost", c.me));
  QMAIL_ASSIGN_OR_RETURN(c.databytes, load_databytes());
  QMAIL_ASSIGN_OR_RETURN(c.maxrcpt, control::read_uint("maxrcpt", kDefaultMaxRcpt));
  if (c.maxrcpt == 0) c.maxrcpt = kDefaultMaxRcpt;
  QMAIL_ASSIGN_OR_RETURN(std::uint64_t t, control::read_uint("timeoutsmtpd", kDefaultTimeout));
  if (t == 0 || t > kMaxSessionSeconds) t = kDefaultTimeout;
  c.timeout = static_cast<unsigned>(t);
  QMAIL_ASSIGN_OR_RETURN(c.rcpthosts, RcptHosts::load());
  QMAIL_ASSIGN_OR_RETURN(c.badmailfrom, BadMailFrom::load());
  QMAIL_ASSIGN_OR_RETURN(c.recipients, Recipients::load());
  c.localips = LocalIps::load(std::getenv("TCPLOCALIP"));
  if (const char* rc = std::getenv("RELAYCLIENT")) c.relayclient = rc;
  c.remoteip = getenv_or("TCPREMOTEIP", "unknown");
  c.remotehost = getenv_or("TCPREMOTEHOST", "unknown");
  c.remoteinfo = getenv_or("TCPREMOTEINFO", "");
  c.localhost = getenv_or("TCPLOCALHOST", getenv_or("TCPLOCALIP", "unknown"));
  const char* smtps = std::getenv("SMTPS");
  c.smtps = smtps && *smtps;
  std::string cert = home::path("control/servercert.pem");
  if (fs::exists(cert)) {
    // The qmail TLS patch's cipher choice: $TLSCIPHERS, else the lines of
    // control/tlsserverciphers joined by ':'.
    std::string ciphers;
    if (const char* e = std::getenv("TLSCIPHERS")) {
      ciphers = e;
    } else {
      QMAIL_ASSIGN_OR_RETURN(auto lines, control::read_lines("tlsserverciphers"));
      for (const std::string& l : lines) ciphers += (ciphers.empty() ? "" : ":") + l;
    }
    auto ctx = server_context(cert, ciphers);
    if (ctx.is_ok())
      c.tls = std::make_unique<tls::ServerContext>(std::move(ctx).value());
    else
      log::warn("STARTTLS disabled: " + ctx.status().message());
    if (fs::exists(home::path("control/tlsclients"))) {
      QMAIL_ASSIGN_OR_RETURN(auto lines, control::read_lines("tlsclients"));
      c.tlsclients.emplace();
      for (const std::string& l : lines) c.tlsclients->push_back(str::lower(str::trim(l)));
    }
  }
  if (!c.rcpthosts.supplied() && !c.relayclient)
    log::warn("control/rcpthosts does not exist: accepting every recipient (qmail-smtpd(8))");
  return c;
}

Status serve(Config& config, int rfd, int wfd) {
  Session s(config, rfd, wfd);
  return s.run();
}

}  // namespace qmail::smtp
