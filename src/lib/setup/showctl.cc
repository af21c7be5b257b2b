#include "setup/showctl.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <utility>

#include "base/strings.h"
#include "fs/fs.h"
#include "home/home.h"
#include "queue/layout.h"
#include "smtp/limits.h"
#include "users/getpw.h"

namespace qmail::setup {

namespace {

using K = ControlKind;

// Control characters from a file are shown as '?', as qmail-showctl does.
std::string safe(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    auto u = static_cast<unsigned char>(c);
    if (u < 32 || u == 127) c = '?';
  }
  return out;
}

std::string strip(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return std::string(s);
}

// nullopt: missing. Error text in `trouble` when it cannot be read.
std::optional<std::string> read_control(const std::string& path, std::string* trouble) {
  auto r = fs::read_file(path, control::kMaxControlFile);
  if (r.is_ok()) return std::move(*r);
  if (r.status().err() != ENOENT) *trouble = r.status().message();
  return std::nullopt;
}

std::vector<std::string> lines_of(std::string_view text) {
  std::vector<std::string> out;
  for (auto line : str::split(text, '\n')) {
    std::string l = strip(line);
    if (l.empty() || l[0] == '#') continue;
    out.push_back(std::move(l));
  }
  return out;
}

std::string first_line(std::string_view text) { return strip(text.substr(0, text.find('\n'))); }

std::string describe(const ControlFile& c, const std::string& dir, const std::string& me,
                     bool* present) {
  std::string trouble;
  auto text = read_control(dir + "/" + std::string(c.name), &trouble);
  *present = text.has_value();
  if (!trouble.empty())
    return "\n" + std::string(c.name) + ": Oops! Trouble reading this file: " + trouble + ".\n";
  return describe_control(c, text, me);
}

}  // namespace

std::string describe_control(const ControlFile& c, const std::optional<std::string>& text,
                             std::string_view me) {
  std::string out = "\n" + std::string(c.name) + ": ";
  switch (c.kind) {
    case K::kInt: {
      if (!text || first_line(*text).empty())
        return out + "(Default.) " + std::string(c.pre) + std::string(c.def) + std::string(c.post) +
               ".\n";
      std::string v = first_line(*text);
      if (!str::parse_uint(str::trim(v))) return out + "Oops! Not a number: " + safe(v) + ".\n";
      return out + std::string(c.pre) + std::string(str::trim(v)) + std::string(c.post) + ".\n";
    }
    case K::kLine: {
      if (!text || first_line(*text).empty()) {
        std::string def(c.def);
        if (c.defaults_to_me && !me.empty()) def = std::string(me);
        return out + "(Default.) " + std::string(c.pre) + safe(def) + std::string(c.post) + ".\n";
      }
      return out + std::string(c.pre) + safe(first_line(*text)) + std::string(c.post) + ".\n";
    }
    case K::kList: {
      if (!text) return out + "(Default.) " + std::string(c.def) + "\n";
      out += "\n";
      for (const std::string& l : lines_of(*text))
        out += std::string(c.pre) + safe(l) + std::string(c.post) + "\n";
      return out;
    }
  }
  return out;
}

namespace {

std::string ids_report(const std::string& home) {
  auto text = fs::read_file(home + "/users/ids", 1 << 20);
  if (!text.is_ok()) return "user ids: (users/ids is missing: run qmail-setup).\n";
  std::string users, groups;
  bool single = true;
  std::string first_uid;
  for (auto line : str::split(*text, '\n')) {
    auto f = str::split(line, ':');
    if (f.size() < 3) continue;
    if (f[0] == "qmail" || f[0] == "nofiles") {
      groups += (groups.empty() ? "" : ", ") + std::string(f[0]) + " " + std::string(f[2]);
    } else {
      users += (users.empty() ? "" : ", ") + std::string(f[0]) + " " + std::string(f[1]);
      if (first_uid.empty()) first_uid = f[1];
      single = single && f[1] == first_uid;
    }
  }
  return "user ids: " + safe(users) + ".\ngroup ids: " + safe(groups) + ".\nhome kind: " +
         (single ? "single-user (every program runs as one user)" : "root (qmail's users)") + ".\n";
}

// The TLS patch's directories (qmail-remote(8)): tlshosts/<FQDN>.pem
// requires verified TLS with the server FQDN, tlshosts/exhaustivelist
// allows TLS only with those servers, notlshosts/<FQDN> turns TLS off for
// FQDN. Each entry gets a line; qmail-remote looks names up in lower case.
std::string tls_dir_report(const std::string& control_dir, const std::string& which) {
  const bool tlshosts = which == "tlshosts";
  std::string out = "\n" + which + ": ";
  auto names = fs::list_dir(control_dir + "/" + which);
  if (!names.is_ok()) {
    if (names.status().err() == ENOENT) {
      return out + "(Default.) " +
             (tlshosts ? "No server requires TLS by name; TLS is tried with any server."
                       : "No server is excluded from TLS by name.") +
             "\n";
    }
    return out + "Oops! Trouble reading this directory: " + safe(names.status().message()) + ".\n";
  }
  std::sort(names->begin(), names->end());
  out += "\n";
  for (const std::string& name : *names) {
    if (name.empty() || name[0] == '.') continue;
    std::string shown = safe(name);
    if (tlshosts && name == "exhaustivelist") {
      out += "TLS is tried only with the servers listed here (exhaustivelist).\n";
      continue;
    }
    std::string_view host = name;
    if (tlshosts) {
      if (!host.ends_with(".pem") || host.size() == 4) {
        out += which + "/" + shown + ": I have no idea what this file does.\n";
        continue;
      }
      host.remove_suffix(4);
    }
    if (str::lower(host) != host) {
      out += "Oops! " + which + "/" + shown + ": qmail-remote looks for lower-case names only.\n";
      continue;
    }
    std::string h = safe(host);
    if (tlshosts) {
      out += "TLS with a certificate verified against tlshosts/" + shown + " required for " + h +
             ".\n";
    } else {
      out += "No TLS with " + h + " (unless tlshosts/" + h + ".pem exists).\n";
    }
  }
  return out;
}

}  // namespace

static_assert(smtp::kDefaultDatabytes == 10485760, "showctl's databytes default");
static_assert(smtp::kDefaultMaxRcpt == 100, "showctl's maxrcpt default");

const std::vector<ControlFile>& control_files() {
  static const std::vector<ControlFile> files = {
      {"badmailfrom", K::kList, "Any MAIL FROM is allowed.", false, "",
       " not accepted in MAIL FROM.", "qmail-smtpd"},
      {"bouncefrom", K::kLine, "MAILER-DAEMON", false, "Bounce user name is ", "", "qmail-send"},
      {"bouncehost", K::kLine, "bouncehost", true, "Bounce host name is ", "", "qmail-send"},
      {"bouncemaxbytes", K::kInt, "50000", false, "Bounces quote at most ",
       " bytes of the message (0: all of it)", "qmail-send"},
      {"concurrencylocal", K::kInt, "10", false, "Local concurrency is ", "", "qmail-send"},
      {"concurrencyremote", K::kInt, "20", false, "Remote concurrency is ", "", "qmail-send"},
      // Our qmail-smtpd's default (smtp::kDefaultDatabytes, docs/smtpd.md), not qmail's 0.
      {"databytes", K::kInt, "10485760", false, "SMTP DATA limit is ", " bytes", "qmail-smtpd"},
      {"defaultdomain", K::kLine, "defaultdomain", true, "Default domain name is ", "",
       "qmail-inject"},
      {"defaulthost", K::kLine, "defaulthost", true, "Default host name is ", "", "qmail-inject"},
      {"dnsresolvers", K::kList, "DNS servers are those of /etc/resolv.conf.", false,
       "DNS server: ", ".", "qmail-remote"},
      {"doublebouncehost", K::kLine, "doublebouncehost", true, "2B recipient host: ", "",
       "qmail-send"},
      {"doublebounceto", K::kLine, "postmaster", false, "2B recipient user: ", "", "qmail-send"},
      {"envnoathost", K::kLine, "envnoathost", true, "Presumed domain name is ", "", "qmail-send"},
      {"helohost", K::kLine, "helohost", true, "SMTP client HELO host name is ", "",
       "qmail-remote"},
      {"idhost", K::kLine, "idhost", true, "Message-ID host name is ", "", "qmail-inject"},
      {"localiphost", K::kLine, "localiphost", true, "Local IP address becomes ", "",
       "qmail-smtpd"},
      {"locals", K::kList, "Messages for me are delivered locally.", false, "Messages for ",
       " are delivered locally.", "qmail-send"},
      {"maxrcpt", K::kInt, "100", false, "SMTP recipients per message: at most ", "",
       "qmail-smtpd"},
      {"me", K::kLine, "undefined! Uh-oh", false, "My name is ", "", "(default for others)"},
      {"morercpthosts", K::kList, "No effect.", false,
       "SMTP clients may send messages to recipients at ", ".", "qmail-smtpd"},
      {"percenthack", K::kList, "The percent hack is not allowed.", false,
       "The percent hack is allowed for user%host@", ".", "qmail-send"},
      {"plusdomain", K::kLine, "plusdomain", true, "Plus domain name is ", "", "qmail-inject"},
      {"qmqpservers", K::kList, "No QMQP servers.", false, "QMQP server: ", ".", "qmail-qmqpc"},
      {"queuelifetime", K::kInt, "604800", false, "Message lifetime in the queue is ", " seconds",
       "qmail-send"},
      {"rcpthosts", K::kList, "SMTP clients may send messages to any recipient.", false,
       "SMTP clients may send messages to recipients at ", ".", "qmail-smtpd"},
      {"recipientmap", K::kList, "No recipient map.", false, "Recipient map: ", "", "qmail-send"},
      {"recipients", K::kList, "No extra valid recipients.", false, "Valid recipient: ", ".",
       "qmail-newrcpt"},
      {"smtpgreeting", K::kLine, "smtpgreeting", true, "SMTP greeting: 220 ", "", "qmail-smtpd"},
      {"smtproutes", K::kList, "No artificial SMTP routes.", false, "SMTP route: ", "",
       "qmail-remote"},
      {"timeoutconnect", K::kInt, "60", false, "SMTP client connection timeout is ", " seconds",
       "qmail-remote"},
      {"timeoutremote", K::kInt, "1200", false, "SMTP client data timeout is ", " seconds",
       "qmail-remote"},
      {"timeoutsmtpd", K::kInt, "1200", false, "SMTP server data timeout is ", " seconds",
       "qmail-smtpd"},
      // The qmail TLS patch's files, as notqmail's qmail-remote(8) reads them.
      {"tlsclientciphers", K::kLine, "that of its TLS policy", false,
       "qmail-remote's TLS 1.2 cipher list is ", "", "qmail-remote"},
      {"tlsclients", K::kList, "Every client with a certificate from clientca.pem may relay.",
       false, "A client with a certificate from clientca.pem for ", " may relay.", "qmail-smtpd"},
      {"tlsdestinations", K::kList, "TLS is opportunistic for every destination.", false,
       "TLS with a verified certificate required for ", ".", "qmail-remote"},
      {"tlsserverciphers", K::kList, "qmail-smtpd offers all TLS 1.2 ciphers of its policy.", false,
       "TLS 1.2 cipher (if allowed): ", ".", "qmail-smtpd"},
      {"virtualdomains", K::kList, "No virtual domains.", false, "Virtual domain: ", "",
       "qmail-send"},
  };
  return files;
}

Result<std::string> showctl(const std::string& home) {
  std::string out;
  out += "qmail home directory: " + safe(home) + ".\n";
  out += std::string("user-ext delimiter: ") + users::kBreak + ".\n";
  out += "subdirectory split: " + std::to_string(queue::kSplit) + ".\n";
  out += ids_report(home);

  std::string dir = home + "/control";
  QMAIL_ASSIGN_OR_RETURN(auto names, fs::list_dir(dir));
  std::sort(names.begin(), names.end());

  std::string me;
  {
    std::string trouble;
    if (auto t = read_control(dir + "/me", &trouble)) me = first_line(*t);
  }
  // morercpthosts comes before rcpthosts in the list, so look ahead.
  struct stat st;
  bool rcpthosts = ::stat((dir + "/rcpthosts").c_str(), &st) == 0;
  for (const ControlFile& c : control_files()) {
    bool present = false;
    if (c.name == "morercpthosts" && !rcpthosts) {
      ControlFile irrelevant = c;
      irrelevant.def = "No rcpthosts; morercpthosts is irrelevant.";
      irrelevant.pre = "No rcpthosts; doesn't matter that morercpthosts has ";
      out += describe(irrelevant, dir, me, &present);
    } else {
      out += describe(c, dir, me, &present);
    }
    if (c.name == "morercpthosts") {
      // qmail-newmrh(8) compiles morercpthosts into morercpthosts.cdb.
      struct stat a, b;
      bool have_a = ::stat((dir + "/morercpthosts").c_str(), &a) == 0;
      bool have_b = ::stat((dir + "/morercpthosts.cdb").c_str(), &b) == 0;
      out += "\nmorercpthosts.cdb: ";
      if (!have_a && !have_b) {
        out += "(Default.) No effect.\n";
      } else if (!have_a) {
        out += "Oops! morercpthosts.cdb exists but morercpthosts doesn't.\n";
      } else if (!have_b) {
        out += "Oops! morercpthosts exists but morercpthosts.cdb doesn't.\n";
      } else if (a.st_mtime > b.st_mtime) {
        out += "Oops! morercpthosts.cdb is older than morercpthosts.\n";
      } else {
        out += "Modified recently enough; hopefully up to date.\n";
      }
    }
  }
  // Files that are not text: described by their presence only.
  static const std::pair<std::string_view, std::string_view> kBinary[] = {
      {"clientca.pem", "qmail-smtpd asks for client certificates signed by these CAs."},
      {"clientcert.pem",
       "qmail-remote presents this certificate when a server asks for one during TLS."},
      {"clientcrl.pem", "qmail-smtpd checks client certificates against these CRLs."},
      {"recipients.cdb", "qmail-smtpd refuses unknown recipients (made by qmail-newrcpt)."},
      {"servercert.pem", "qmail-smtpd offers STARTTLS with this certificate."},
  };
  for (const auto& [name, what] : kBinary)
    if (std::binary_search(names.begin(), names.end(), std::string(name)))
      out += "\n" + std::string(name) + ": " + std::string(what) + "\n";
  out += tls_dir_report(dir, "tlshosts");
  out += tls_dir_report(dir, "notlshosts");
  for (const std::string& name : names) {
    if (name == "morercpthosts.cdb" || name == "tlshosts" || name == "notlshosts") continue;
    if (std::any_of(std::begin(kBinary), std::end(kBinary),
                    [&](const auto& b) { return b.first == name; }))
      continue;
    bool known = std::any_of(control_files().begin(), control_files().end(),
                             [&](const ControlFile& c) { return c.name == name; });
    if (!known) out += "\n" + safe(name) + ": I have no idea what this file does.\n";
  }
  return out;
}

}  // namespace qmail::setup
