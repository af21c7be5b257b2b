#include "qmtp/server.h"

#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <vector>

#include "base/exit_codes.h"
#include "base/log.h"
#include "base/strings.h"
#include "home/home.h"
#include "io/io.h"
#include "qmtp/netstring.h"
#include "queue/inject.h"
#include "smtp/limits.h"
#include "smtp/session.h"

namespace qmail::qmtp {

namespace {

std::string getenv_or(const char* name, std::string_view def) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string(def);
}

// A message being received: queued through qmail-queue unless something
// already decided its fate. `failure` holds the response for every
// recipient when set ("Z..." or "D...").
struct Incoming {
  std::optional<queue::Submission> sub;
  std::string failure;

  void fail(std::string response) {
    if (failure.empty()) failure = std::move(response);
    sub.reset();  // kills qmail-queue: nothing is queued
  }
  void start(const ServerConfig& c, std::string_view proto) {
    auto s = queue::Submission::start();
    if (!s.is_ok()) {
      log::warn(s.status().message());
      fail("Zqq temporary problem (#4.3.0)");
      return;
    }
    sub.emplace(std::move(s).value());
    put(smtp::received_line("", c.remotehost, c.remoteinfo, c.remoteip, c.localhost, proto,
                            std::time(nullptr)));
  }
  void put(std::string_view bytes) {
    if (sub && !sub->put(bytes).is_ok()) {
      // qmail-queue went away; finish() would say why, but we answer Z.
      fail("Zqq write error or disk full (#4.3.0)");
    }
  }
  // Queues for `rcpts`; returns the response for each of them.
  std::string finish(std::string_view sender, const std::vector<std::string>& rcpts) {
    if (!failure.empty() || !sub)
      return failure.empty() ? "Zqq temporary problem (#4.3.0)" : failure;
    pid_t qp = sub->pid();  // qmail-log(5) "qp": gone after finish()
    auto code = sub->finish(sender, rcpts);
    std::string response;
    if (!code.is_ok()) {
      log::warn(code.status().message());
      response = "Zqq temporary problem (#4.3.0)";
    } else if (*code == 0) {
      response = "Kok " + std::to_string(std::time(nullptr)) + " qp " + std::to_string(qp);
    } else {
      auto no = sub->refusal(*code);
      response = (no.perm ? "D" : "Z") + no.text;
    }
    sub.reset();
    return response;
  }
};

// Copies `len` message bytes from `in` to qmail-queue. LF-encoded
// messages already have qmail-queue's LF line ends; with `crlf` (QMTP's
// old <0d> encoding) each CR LF becomes LF, and any other CR is kept.
Status copy_message(io::Reader& in, std::uint64_t len, Incoming& m, bool crlf = false) {
  bool pending_cr = false;  // a CR ended the previous part
  std::string out;
  while (len > 0) {
    std::size_t want = len > 65536 ? 65536 : static_cast<std::size_t>(len);
    QMAIL_ASSIGN_OR_RETURN(std::string_view part, in.read_some(want));
    if (part.empty()) return Status::perm("truncated netstring");
    len -= part.size();
    if (!crlf) {
      m.put(part);
      continue;
    }
    out.clear();
    for (char c : part) {
      if (pending_cr && c != '\n') out += '\r';
      pending_cr = c == '\r';
      if (!pending_cr) out += c;
    }
    m.put(out);
  }
  if (pending_cr) m.put("\r");
  return Status::ok();
}

// rcpthosts as qmail-smtpd(8) applies it (and our addition: no '%', '!' or
// second '@' in the local part without RELAYCLIENT). Errors: temp.
Result<bool> allowed(const ServerConfig& c, std::string_view rcpt) {
  if (c.relayclient) return true;
  std::size_t at = rcpt.rfind('@');
  // As qmail-smtpd: an address without '@' means the local host, but its
  // local part may not carry a percent hack or bang path either.
  std::string_view local = at == std::string_view::npos ? rcpt : rcpt.substr(0, at);
  if (local.find_first_of("%!@") != std::string_view::npos) return false;
  if (at == std::string_view::npos) return true;
  return c.rcpthosts.allows(rcpt.substr(at + 1));
}

Status write_responses(int wfd, const std::vector<std::string>& responses) {
  std::string out;
  for (const auto& r : responses) out += encode(r);
  return io::write_all(wfd, out);
}

}  // namespace

Result<ServerConfig> load_config(bool qmtp) {
  ServerConfig c;
  if (const char* rc = std::getenv("RELAYCLIENT")) c.relayclient = rc;
  c.remoteip = getenv_or("TCPREMOTEIP", "unknown");
  c.remotehost = getenv_or("TCPREMOTEHOST", "unknown");
  c.remoteinfo = getenv_or("TCPREMOTEINFO", "");
  c.localhost = getenv_or("TCPLOCALHOST", getenv_or("TCPLOCALIP", "unknown"));
  QMAIL_ASSIGN_OR_RETURN(std::uint64_t t, control::read_uint("timeoutsmtpd", kDefaultTimeout));
  if (t == 0 || t > 86400) t = kDefaultTimeout;
  c.timeout = static_cast<unsigned>(t);
  if (!qmtp) return c;
  QMAIL_ASSIGN_OR_RETURN(c.databytes, smtp::load_databytes());
  QMAIL_ASSIGN_OR_RETURN(c.rcpthosts, smtp::RcptHosts::load());
  return c;
}

Status serve_qmtp(const ServerConfig& c, int rfd, int wfd) {
  io::Reader in(rfd);
  for (;;) {
    // qmtp.txt 4: a package is the message, the sender, and the list of
    // recipients, each a netstring; the message starts with its encoding.
    auto len = read_length(in, UINT64_MAX);
    if (!len.is_ok()) {
      if (in.eof()) return Status::ok();  // the client is done
      return len.status();
    }
    Incoming m;
    bool crlf = false;
    std::uint64_t body = *len;
    if (body == 0) {
      m.fail("Dempty message (#5.6.0)");
    } else {
      QMAIL_ASSIGN_OR_RETURN(char encoding, in.get());
      --body;
      // qmtp.txt 4: <0a> means LF line ends; the old <0d> form (CR LF
      // line ends) is still taken, as qmail-qmtpd takes it.
      crlf = encoding == '\r';
      if (encoding != '\n' && encoding != '\r')
        m.fail("Dsorry, I only accept LF-encoded messages (#5.6.1)");
      else if (body > c.databytes)
        m.fail("Dsorry, that message size exceeds my databytes limit (#5.3.4)");
      else
        m.start(c, "QMTP");
    }
    QMAIL_RETURN_IF_ERROR(copy_message(in, body, m, crlf));
    QMAIL_RETURN_IF_ERROR(read_comma(in));
    // An overlong address is refused with a response, not by dropping the
    // connection; it is read within the bound of a recipient list.
    QMAIL_ASSIGN_OR_RETURN(std::string sender, read(in, kMaxRecipientList));
    if (sender.size() > kMaxAddress) m.fail("Dsorry, that sender address is too long (#5.1.7)");
    if (sender.find('\0') != std::string::npos) m.fail("Dbad sender address (#5.1.7)");
    QMAIL_ASSIGN_OR_RETURN(std::string list, read(in, kMaxRecipientList));
    std::vector<std::string> rcpts;
    std::string_view rest = list;
    while (!rest.empty()) {
      QMAIL_ASSIGN_OR_RETURN(std::string_view r, parse(rest, kMaxRecipientList));
      rcpts.emplace_back(r);
    }
    if (rcpts.empty()) return Status::perm("package without recipients");
    // One response per recipient, in order (qmtp.txt 2).
    std::vector<std::string> responses(rcpts.size());
    std::vector<std::string> accepted;
    std::vector<std::size_t> accepted_index;
    for (std::size_t i = 0; i < rcpts.size(); ++i) {
      if (!m.failure.empty()) {
        responses[i] = m.failure;
        continue;
      }
      if (rcpts[i].find('\0') != std::string::npos) {
        responses[i] = "Dbad recipient address (#5.1.3)";
        continue;
      }
      if (rcpts[i].size() > kMaxAddress) {
        responses[i] = "Dsorry, that address is too long (#5.1.3)";
        continue;
      }
      auto ok = allowed(c, rcpts[i]);
      if (!ok.is_ok()) {
        log::warn(ok.status().message());
        responses[i] = "Zunable to read controls (#4.3.0)";
      } else if (!*ok) {
        responses[i] = "Dsorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)";
      } else {
        accepted.push_back(rcpts[i] + (c.relayclient ? *c.relayclient : ""));
        accepted_index.push_back(i);
      }
    }
    if (!accepted.empty()) {
      std::string r = m.finish(sender, accepted);
      for (std::size_t i : accepted_index) responses[i] = r;
    }
    QMAIL_RETURN_IF_ERROR(write_responses(wfd, responses));
  }
}

Status serve_qmqp(const ServerConfig& c, int rfd, int wfd) {
  io::Reader in(rfd);
  // qmqp: one netstring holding netstrings: message, sender, recipients.
  QMAIL_ASSIGN_OR_RETURN(std::uint64_t outer, read_length(in, UINT64_MAX));
  QMAIL_ASSIGN_OR_RETURN(std::uint64_t mlen, read_length(in, outer));
  // The message's length prefix and its ",".
  std::uint64_t used = std::to_string(mlen).size() + 2 + mlen;
  if (used > outer) return Status::perm("bad netstring");
  Incoming m;
  m.start(c, "QMQP");
  QMAIL_RETURN_IF_ERROR(copy_message(in, mlen, m));
  QMAIL_RETURN_IF_ERROR(read_comma(in));
  std::uint64_t rest_len = outer - used;
  if (rest_len > kMaxRecipientList + kMaxAddress + 16) return Status::perm("netstring too long");
  std::string envelope;
  envelope.reserve(static_cast<std::size_t>(rest_len));
  while (envelope.size() < rest_len) {
    QMAIL_ASSIGN_OR_RETURN(std::string_view part,
                           in.read_some(static_cast<std::size_t>(rest_len - envelope.size())));
    if (part.empty()) return Status::perm("truncated netstring");
    envelope += part;
  }
  QMAIL_RETURN_IF_ERROR(read_comma(in));
  std::string_view rest = envelope;
  QMAIL_ASSIGN_OR_RETURN(std::string_view sender, parse(rest, kMaxRecipientList));
  std::vector<std::string> rcpts;
  while (!rest.empty()) {
    QMAIL_ASSIGN_OR_RETURN(std::string_view r, parse(rest, kMaxRecipientList));
    rcpts.emplace_back(r);
  }
  std::string response;
  bool nul = sender.find('\0') != std::string_view::npos;
  bool too_long = sender.size() > kMaxAddress;
  for (const auto& r : rcpts) {
    nul = nul || r.find('\0') != std::string::npos;
    too_long = too_long || r.size() > kMaxAddress;
  }
  if (nul) {
    response = "Dbad address (#5.1.3)";
  } else if (too_long) {
    // An answer, not a dropped connection: the package was well formed.
    response = "Dsorry, that address is too long (#5.1.3)";
  } else if (rcpts.empty()) {
    response = "Dno recipients (#5.1.3)";
  } else {
    response = m.finish(sender, rcpts);
  }
  return io::write_all(wfd, encode(response));
}

}  // namespace qmail::qmtp
