#include "inject/inject.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <unordered_set>

#include "base/exit_codes.h"
#include "base/strings.h"
#include "fs/fs.h"
#include "header/date.h"
#include "header/header.h"
#include "home/home.h"
#include "inject/getopt.h"
#include "io/io.h"
#include "queue/inject.h"

namespace qmail::inject {

namespace {

constexpr const char* kUsage = "usage: qmail-inject [ -nNaAhH ] [ -f sender ] [ recip ... ]";

// The fields qmail-header(5) gives a meaning to.
enum class Kind {
  kOther,
  kSender,
  kFrom,
  kReplyTo,
  kMailReplyTo,
  kMailFollowupTo,
  kTo,
  kCc,
  kBcc,
  kApparentlyTo,
  kDate,
  kMessageId,
  kResentSender,
  kResentFrom,
  kResentReplyTo,
  kResentTo,
  kResentCc,
  kResentBcc,
  kResentDate,
  kResentMessageId,
  kReturnReceiptTo,
  kErrorsTo,
  kReturnPath,
  kContentLength,
  kCount,
};

Kind classify(std::string_view name) {
  static const struct {
    const char* name;
    Kind kind;
  } kTable[] = {
      {"sender", Kind::kSender},
      {"from", Kind::kFrom},
      {"reply-to", Kind::kReplyTo},
      {"mail-reply-to", Kind::kMailReplyTo},
      {"mail-followup-to", Kind::kMailFollowupTo},
      {"to", Kind::kTo},
      {"cc", Kind::kCc},
      {"bcc", Kind::kBcc},
      {"apparently-to", Kind::kApparentlyTo},
      {"date", Kind::kDate},
      {"message-id", Kind::kMessageId},
      {"resent-sender", Kind::kResentSender},
      {"resent-from", Kind::kResentFrom},
      {"resent-reply-to", Kind::kResentReplyTo},
      {"resent-to", Kind::kResentTo},
      {"resent-cc", Kind::kResentCc},
      {"resent-bcc", Kind::kResentBcc},
      {"resent-date", Kind::kResentDate},
      {"resent-message-id", Kind::kResentMessageId},
      {"return-receipt-to", Kind::kReturnReceiptTo},
      {"errors-to", Kind::kErrorsTo},
      {"return-path", Kind::kReturnPath},
      {"content-length", Kind::kContentLength},
  };
  for (const auto& e : kTable)
    if (str::iequals(name, e.name)) return e.kind;
  return Kind::kOther;
}

bool is_address_field(Kind k) {
  switch (k) {
    case Kind::kSender:
    case Kind::kFrom:
    case Kind::kReplyTo:
    case Kind::kMailReplyTo:
    case Kind::kMailFollowupTo:
    case Kind::kTo:
    case Kind::kCc:
    case Kind::kBcc:
    case Kind::kApparentlyTo:
    case Kind::kResentSender:
    case Kind::kResentFrom:
    case Kind::kResentReplyTo:
    case Kind::kResentTo:
    case Kind::kResentCc:
    case Kind::kResentBcc:
    case Kind::kReturnReceiptTo:
    case Kind::kErrorsTo:
    case Kind::kReturnPath:
      return true;
    default:
      return false;
  }
}

const char* env_first(const Getenv& getenv, std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (const char* v = getenv(n)) return v;
  return nullptr;
}

// A control file with qmail-inject's defaults (me, else the literal name)
// and its environment override.
Status control_value(std::string& out, const char* name, const char* env, const Getenv& getenv) {
  if (const char* v = getenv(env)) {
    out = v;
    return Status::ok();
  }
  QMAIL_ASSIGN_OR_RETURN(out, control::read_line_or_me(name, name));
  return Status::ok();
}

// Lines of $QMAILMFTFILE as qmail's control files are read: trailing white
// space stripped, blank lines and lines starting with '#' skipped.
Result<std::optional<std::vector<std::string>>> read_mft(const char* path) {
  using Out = std::optional<std::vector<std::string>>;
  if (!path) return Out();
  auto r = fs::read_file(path, control::kMaxControlFile);
  if (!r.is_ok()) {
    if (r.status().err() == ENOENT) return Out();
    return Status::temp(std::string("unable to read $QMAILMFTFILE: ") + r.status().message());
  }
  std::vector<std::string> lines;
  for (std::string_view line : str::split(*r, '\n')) {
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r'))
      line.remove_suffix(1);
    if (line.empty() || line[0] == '#') continue;
    lines.emplace_back(line);
  }
  return Out(std::move(lines));
}

std::string two(int n) {
  char b[16];  // room for any int: no truncation
  std::snprintf(b, sizeof b, "%02d", n);
  return b;
}

// "Message-ID: <YYYYMMDDHHMMSS.pid.qmail@idhost>" as qmail makes it.
std::string message_id(const Settings& s) {
  struct tm tm {};
  ::gmtime_r(&s.now, &tm);
  return "<" + std::to_string(tm.tm_year + 1900) + two(tm.tm_mon + 1) + two(tm.tm_mday) +
         two(tm.tm_hour) + two(tm.tm_min) + two(tm.tm_sec) + "." + std::to_string(s.pid) +
         ".qmail@" + s.idhost + ">";
}

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

std::string printable(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\n')
      out += "\\n";
    else if (c == '\0')
      out += "\\0";
    else
      out += c;
  }
  if (out.size() > 200) out = out.substr(0, 200) + "...";
  return out;
}

}  // namespace

Result<Settings> load(std::span<char*> args, const Getenv& getenv) {
  Settings s;
  s.now = std::time(nullptr);
  s.pid = static_cast<long>(::getpid());

  if (const char* q = getenv("QMAILINJECT")) {
    for (; *q; ++q) {
      switch (*q) {
        case 'c':
          s.name_comment = true;
          break;
        case 's':
          s.ignore_return_path = true;
          break;
        case 'f':
          s.delete_from = true;
          break;
        case 'i':
          s.delete_message_id = true;
          break;
        case 'r':
          s.verp_recipient = true;
          break;
        case 'm':
          s.verp_message = true;
          break;
        default:
          break;
      }
    }
  }
  if (const char* v = env_first(getenv, {"QMAILHOST", "MAILHOST"})) s.mailhost = v;
  if (const char* v = getenv("QMAILSHOST"))
    s.mailrhost = v;
  else
    s.mailrhost = s.mailhost;
  if (const char* v = env_first(getenv, {"QMAILUSER", "MAILUSER", "USER", "LOGNAME"}))
    s.mailuser = v;
  if (const char* v = getenv("QMAILSUSER"))
    s.mailruser = v;
  else
    s.mailruser = s.mailuser;
  if (const char* v = env_first(getenv, {"QMAILNAME", "MAILNAME", "NAME"})) s.fullname = v;

  GetOpt opt(args, "aAhHnNf:");
  for (int c; (c = opt.next()) != 0;) {
    switch (c) {
      case 'a':
        s.recip = Recip::kArgs;
        break;
      case 'A':
        s.recip = Recip::kDefault;
        break;
      case 'h':
        s.recip = Recip::kHeader;
        break;
      case 'H':
        s.recip = Recip::kBoth;
        break;
      case 'n':
        s.print = true;
        break;
      case 'N':
        s.print = false;
        break;
      case 'f':
        s.sender = opt.arg();
        break;
      default:
        return Status::perm(kUsage);
    }
  }
  for (std::size_t i = opt.index(); i < args.size() && args[i]; ++i) s.args.emplace_back(args[i]);
  if (s.recip == Recip::kDefault) s.recip = s.args.empty() ? Recip::kHeader : Recip::kArgs;

  QMAIL_ASSIGN_OR_RETURN(s.mft, read_mft(getenv("QMAILMFTFILE")));
  QMAIL_RETURN_IF_ERROR(
      control_value(s.defaultdomain, "defaultdomain", "QMAILDEFAULTDOMAIN", getenv));
  QMAIL_RETURN_IF_ERROR(control_value(s.defaulthost, "defaulthost", "QMAILDEFAULTHOST", getenv));
  QMAIL_RETURN_IF_ERROR(control_value(s.plusdomain, "plusdomain", "QMAILPLUSDOMAIN", getenv));
  QMAIL_RETURN_IF_ERROR(control_value(s.idhost, "idhost", "QMAILIDHOST", getenv));
  return s;
}

void Rewriter::rewrite(addr::Mailbox& m) const {
  if (!m.is_address() || m.is_null()) return;  // <> stays <>
  if (m.has_at && m.domain == "[]") return;    // <foo@[]> stays too
  // "a@b." loses the final dot; "a@" loses the '@' (then gets defaulthost).
  if (m.has_at && !m.domain.empty() && m.domain.back() == '.') m.domain.pop_back();
  if (m.has_at && m.domain.empty()) m.has_at = false;
  if (!m.has_at) {
    m.has_at = true;
    m.domain = s_.defaulthost;
  }
  bool literal = !m.domain.empty() && m.domain[0] == '[';
  if (!literal && !m.domain.empty() && m.domain.back() == '+') {
    m.domain.pop_back();
    m.domain += "." + s_.plusdomain;
  }
  if (!literal && m.domain.find('.') == std::string::npos) m.domain += "." + s_.defaultdomain;
}

Result<std::string> Rewriter::envelope(std::string_view arg) const {
  if (arg.empty() || arg == "<>") return std::string();
  auto m = addr::parse_one(addr::quote(arg));
  if (!m.is_ok())
    return Status::perm("unable to parse address: " + printable(arg) + ": " + m.status().message());
  rewrite(*m);
  return m->address();
}

Result<Prepared> prepare(const Settings& s, const std::vector<std::string>& fields) {
  Rewriter rw(s);
  Prepared p;
  std::optional<std::string> sender;
  if (s.sender) {
    QMAIL_ASSIGN_OR_RETURN(std::string v, rw.envelope(*s.sender));
    sender = std::move(v);
  }
  if (s.recip == Recip::kArgs || s.recip == Recip::kBoth) {
    for (const std::string& a : s.args) {
      QMAIL_ASSIGN_OR_RETURN(std::string r, rw.envelope(a));
      if (r.empty()) return Status::perm("unable to parse address: empty recipient");
      p.recipients.push_back(std::move(r));
    }
  }
  bool header_recips = s.recip == Recip::kHeader || s.recip == Recip::kBoth;

  bool seen[static_cast<int>(Kind::kCount)] = {};
  std::vector<std::string> hr, hrr, tocc;  // qmail's header-recipient lists
  std::optional<std::string> hr_error, hrr_error;
  std::string saved;
  for (const std::string& f : fields) {
    std::string_view name = header::field_name(f);
    Kind kind = classify(name);
    if (s.delete_from && kind == Kind::kFrom) continue;
    if (s.delete_message_id && kind == Kind::kMessageId) continue;
    if (s.ignore_return_path && kind == Kind::kReturnPath) continue;
    seen[static_cast<int>(kind)] = true;

    std::string out = f;
    if (is_address_field(kind)) {
      auto list = addr::parse_list(header::field_value(f));
      if (!list.is_ok()) {
        // Kept as it is unless its addresses matter for the envelope.
        std::string why =
            "unable to parse this line: " + printable(f) + " (" + list.status().message() + ")";
        switch (kind) {
          case Kind::kTo:
          case Kind::kCc:
          case Kind::kBcc:
          case Kind::kApparentlyTo:
            if (!hr_error) hr_error = why;
            break;
          case Kind::kResentTo:
          case Kind::kResentCc:
          case Kind::kResentBcc:
            if (!hrr_error) hrr_error = why;
            break;
          case Kind::kReturnPath:
            if (!sender) return Status::perm(why);
            break;
          // qmail-header(5)'s sender fields: qmail-inject rewrites their
          // addresses, and one it cannot parse is a severe syntax error
          // (qmail-inject(8): exit 100), as in qmail.
          case Kind::kSender:
          case Kind::kFrom:
          case Kind::kReplyTo:
          case Kind::kReturnReceiptTo:
          case Kind::kErrorsTo:
          case Kind::kResentSender:
          case Kind::kResentFrom:
          case Kind::kResentReplyTo:
            return Status::perm(why);
          default:
            break;
        }
      } else {
        bool first = true;
        addr::for_each_mailbox(*list, [&](addr::Mailbox& m) {
          rw.rewrite(m);
          if (!m.is_address()) return;
          std::string a = m.address();
          switch (kind) {
            case Kind::kTo:
            case Kind::kCc:
              tocc.push_back(a);
              hr.push_back(a);
              break;
            case Kind::kBcc:
            case Kind::kApparentlyTo:
              hr.push_back(a);
              break;
            case Kind::kResentTo:
            case Kind::kResentCc:
            case Kind::kResentBcc:
              hrr.push_back(a);
              break;
            case Kind::kReturnPath:
              // The first address sets the envelope sender.
              if (first && !sender) {
                sender = a;
                if (s.verp_recipient && !a.empty()) *sender += "-@[]";
              }
              break;
            default:
              break;
          }
          first = false;
        });
        std::string contents = addr::format_list(*list, name.size() + 2);
        out = std::string(name) + ":" + (contents.empty() ? "" : " ") + contents + "\n";
      }
    }
    // qmail-header(5): Bcc, Resent-Bcc, Return-Path and Content-Length go.
    if (kind == Kind::kBcc || kind == Kind::kResentBcc || kind == Kind::kReturnPath ||
        kind == Kind::kContentLength)
      continue;
    saved += out;
  }
  auto was = [&](Kind k) { return seen[static_cast<int>(k)]; };
  bool resent = was(Kind::kResentSender) || was(Kind::kResentFrom) || was(Kind::kResentReplyTo) ||
                was(Kind::kResentTo) || was(Kind::kResentCc) || was(Kind::kResentBcc) ||
                was(Kind::kResentDate) || was(Kind::kResentMessageId);

  if (header_recips) {
    if (resent && hrr_error) return Status::perm(*hrr_error);
    if (!resent && hr_error) return Status::perm(*hr_error);
    for (std::string& r : resent ? hrr : hr) p.recipients.push_back(std::move(r));
  }

  if (!sender) {
    // qmail-inject(8): the default From address, or QMAILSUSER/QMAILSHOST,
    // with the VERP letters m (per message) and r (per recipient).
    addr::Mailbox m;
    m.local = s.mailruser;
    if (s.verp_message) m.local += "-" + std::to_string(s.now) + "." + std::to_string(s.pid);
    if (s.verp_recipient) m.local += "-";
    if (s.mailrhost) {
      m.has_at = true;
      m.domain = *s.mailrhost;
    }
    rw.rewrite(m);
    sender = m.address();
    if (s.verp_recipient) *sender += "-@[]";
  }
  p.sender = *sender;
  if (has_nul(p.sender)) return Status::perm("envelope sender contains a NUL byte");
  for (const std::string& r : p.recipients)
    if (has_nul(r)) return Status::perm("recipient address contains a NUL byte");

  auto default_from = [&] {
    addr::Mailbox m;
    m.local = s.mailuser;
    if (s.mailhost) {
      m.has_at = true;
      m.domain = *s.mailhost;
    }
    rw.rewrite(m);
    if (s.fullname && !s.name_comment) {
      m.angle = true;
      m.phrase = addr::quote_string(*s.fullname);
    } else if (s.fullname) {
      m.comments.push_back(addr::escape_comment(*s.fullname));
    }
    return "From: " + addr::format(m) + "\n";
  };

  std::string& h = p.header;
  if (s.print) h += "Return-Path: <" + addr::quote(p.sender) + ">\n";
  if (resent) {
    if (!was(Kind::kResentDate)) h += "Resent-Date: " + header::format_date(s.now) + "\n";
    if (!was(Kind::kResentMessageId)) h += "Resent-Message-ID: " + message_id(s) + "\n";
    if (!was(Kind::kResentFrom)) h += "Resent-" + default_from();
    if (!was(Kind::kResentTo) && !was(Kind::kResentCc))
      h += "Resent-Cc: recipient list not shown: ;\n";
  } else {
    if (!was(Kind::kDate)) h += "Date: " + header::format_date(s.now) + "\n";
    if (!was(Kind::kMessageId)) h += "Message-ID: " + message_id(s) + "\n";
    if (!was(Kind::kFrom)) h += default_from();
    if (!was(Kind::kTo) && !was(Kind::kCc)) h += "Cc: recipient list not shown: ;\n";
    // QMAILMFTFILE: a message to one of the listed (mailing-list) addresses
    // gets Mail-Followup-To with all its To and Cc addresses.
    if (s.mft && !was(Kind::kMailFollowupTo)) {
      std::unordered_set<std::string> lists;
      for (const std::string& l : *s.mft) lists.insert(str::lower(l));
      bool listed = false;
      for (const std::string& a : tocc) listed = listed || lists.count(str::lower(a)) > 0;
      if (listed) {
        addr::AddressList list;
        for (const std::string& a : tocc) {
          auto sp = addr::split(a);
          addr::Mailbox m;
          m.local = std::string(sp.local);
          m.domain = std::string(sp.domain);
          m.has_at = sp.has_at;
          list.emplace_back(std::move(m));
        }
        h += "Mail-Followup-To: " + addr::format_list(list, 18) + "\n";
      }
    }
  }
  h += saved;
  return p;
}

namespace {

// Where the prepared message goes: qmail-queue, or stdout with -n.
class Sink {
 public:
  static Result<Sink> open(bool print) {
    Sink k;
    if (!print) {
      auto sub = queue::Submission::start();
      if (!sub.is_ok()) return Status::temp("unable to run qmail-queue: " + sub.status().message());
      k.sub_.emplace(std::move(*sub));
    }
    return k;
  }
  Status put(std::string_view b) {
    if (b.empty()) return Status::ok();
    last_ = b.back();
    if (sub_) return sub_->put(b);
    return out_.put(b);
  }
  char last() const { return last_; }
  Status finish(const Prepared& p) {
    if (!sub_) return out_.flush();
    QMAIL_ASSIGN_OR_RETURN(int code, sub_->finish(p.sender, p.recipients));
    if (code == queue_exit::kOk) return Status::ok();
    return sub_->refusal(code).status("qmail-queue failed: ");
  }

 private:
  Sink() = default;
  std::optional<queue::Submission> sub_;
  io::Writer out_{1};
  char last_ = '\n';
};

// Errors from reading stdin set `input_error`: then nothing may be queued.
Status copy_message(Sink& sink, io::Reader& in, const header::Header& h, const Prepared& p,
                    bool& input_error) {
  QMAIL_RETURN_IF_ERROR(sink.put(p.header));
  if (h.end == header::End::kBlank) QMAIL_RETURN_IF_ERROR(sink.put("\n"));
  if (h.end == header::End::kBodyLine) {
    // qmail-header(5): the header ends at the first line that is not a
    // field; a blank line goes in before it.
    QMAIL_RETURN_IF_ERROR(sink.put("\n"));
    QMAIL_RETURN_IF_ERROR(sink.put(h.body_line));
  }
  if (h.end == header::End::kEof) return Status::ok();
  bool body = false;
  for (;;) {
    auto r = in.read_some(65536);
    if (!r.is_ok()) {
      input_error = true;
      return Status::temp("read error: " + r.status().message());
    }
    std::string_view chunk = *r;
    if (chunk.empty()) break;
    body = true;
    QMAIL_RETURN_IF_ERROR(sink.put(chunk));
  }
  // As qmail, a last line without a newline gets one.
  if (body && sink.last() != '\n') QMAIL_RETURN_IF_ERROR(sink.put("\n"));
  return Status::ok();
}

}  // namespace

Status run(std::span<char*> args) {
  QMAIL_ASSIGN_OR_RETURN(Settings s, load(args, [](const char* n) { return std::getenv(n); }));
  io::Reader in(0);
  QMAIL_ASSIGN_OR_RETURN(header::Header h, header::read(in));
  QMAIL_ASSIGN_OR_RETURN(Prepared p, prepare(s, h.fields));
  if (!s.print && p.recipients.empty()) return Status::perm("no recipients");
  QMAIL_ASSIGN_OR_RETURN(Sink sink, Sink::open(s.print));
  bool input_error = false;
  Status copied = copy_message(sink, in, h, p, input_error);
  // Destroying the sink unfinished kills qmail-queue: nothing is queued.
  if (input_error) return copied;
  // A write error usually means qmail-queue quit: its exit code says why.
  Status done = sink.finish(p);
  if (!done.is_ok()) return done;
  return copied;
}

}  // namespace qmail::inject
