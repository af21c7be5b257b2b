#include "rcptdb/rcptdb.h"

#include <cdb.h>

#include <cerrno>
#include <map>
#include <utility>

#include "base/strings.h"
#include "fs/fs.h"
#include "home/home.h"
#include "io/fd.h"
#include "send/route.h"
#include "users/users.h"

namespace qmail::rcptdb {

std::string representable(std::string_view prefix) {
  if (prefix.empty() || prefix.back() == '-') return std::string(prefix);
  std::size_t dash = prefix.rfind('-');
  return dash == std::string_view::npos ? std::string() : std::string(prefix.substr(0, dash + 1));
}

std::vector<std::string> extensions(const std::vector<std::string>& file_names,
                                    std::string_view dash) {
  std::string prefix = ".qmail" + std::string(dash);
  std::vector<std::string> out;
  for (const std::string& name : file_names) {
    if (name.size() <= prefix.size() || !name.starts_with(prefix)) continue;
    std::string ext = str::lower(std::string_view(name).substr(prefix.size()));
    for (char& c : ext) {
      if (c == ':') c = '.';  // dot-qmail(5): '.' in an extension is ':' in the name
    }
    out.push_back(std::move(ext));
  }
  return out;
}

bool ext_deliverable(std::string_view ext, const std::set<std::string>& exts) {
  if (ext.empty()) return true;
  std::string e(ext);
  if (exts.count(e)) return true;
  for (std::size_t i = e.size() + 1; i-- > 0;) {
    if ((i == 0 || e[i - 1] == '-') && exts.count(e.substr(0, i) + "default")) return true;
  }
  return false;
}

void add_entry(Names& out, std::string_view address, bool wildcard, std::string_view ext,
               const std::optional<std::set<std::string>>& exts) {
  std::string a(address);
  if (!wildcard) {
    if (!a.empty() && (!exts || ext_deliverable(ext, *exts))) out.exact.insert(a);
    return;
  }
  if (!exts) {
    out.wild.insert(representable(a));
    if (!a.empty()) out.exact.insert(a);
    return;
  }
  // Local part a+R has extension ext+R.
  if (!a.empty() && ext_deliverable(ext, *exts)) out.exact.insert(a);
  for (const std::string& s : *exts) {
    bool is_default = s == "default" || s.ends_with("-default");
    if (is_default) {
      std::string_view y = std::string_view(s).substr(0, s.size() - 7);
      if (y.starts_with(ext))
        out.wild.insert(representable(a + std::string(y.substr(ext.size()))));
      else if (ext.starts_with(y))
        out.wild.insert(representable(a));
    } else if (s.size() > ext.size() && s.starts_with(ext)) {
      out.exact.insert(a + s.substr(ext.size()));
    }
  }
}

void add_domain_keys(std::set<std::string>& keys, const Names& names, std::string_view domain,
                     std::string_view prepend) {
  std::string at = "@" + str::lower(domain);
  // A key ending in '-' means "every box-anything" to qmail-smtpd, so the
  // bare address "box-" (empty rest of a +box- entry) cannot be listed
  // alone without accepting all of box-*; it is left out.
  if (prepend.empty()) {
    for (const auto& e : names.exact)
      if (!e.ends_with("-")) keys.insert(e + at);
    for (const auto& w : names.wild) keys.insert(w + at);
    return;
  }
  std::string q = str::lower(prepend) + "-";
  for (const auto& e : names.exact) {
    if (e.size() > q.size() && e.starts_with(q) && !e.ends_with("-"))
      keys.insert(e.substr(q.size()) + at);
  }
  for (const auto& w : names.wild) {
    if (w.starts_with(q))
      keys.insert(w.substr(q.size()) + at);
    else if (q.starts_with(w))
      keys.insert(at);
  }
}

void add_address_key(std::set<std::string>& keys, const Names& names, std::string_view user,
                     std::string_view domain, std::string_view prepend) {
  std::string l = str::lower(prepend) + "-" + str::lower(user);
  if (user.empty() || user.ends_with("-")) return;
  bool ok = names.exact.count(l) > 0;
  for (const auto& w : names.wild) ok = ok || l.starts_with(w);
  if (ok) keys.insert(str::lower(user) + "@" + str::lower(domain));
}

std::vector<std::string> parse_extra(std::string_view text,
                                     const std::vector<std::string>& local_domains,
                                     std::vector<std::size_t>* bad) {
  std::vector<std::string> out;
  std::size_t lineno = 0;
  for (std::string_view line : str::split(text, '\n')) {
    ++lineno;
    std::string_view l = str::trim(line);
    if (l.empty() || l.front() == '#') continue;
    bool ok = l.size() <= kMaxAddress;
    for (char c : l) {
      auto u = static_cast<unsigned char>(c);
      if (u <= ' ' || u == 127) ok = false;
    }
    if (!ok) {
      if (bad) bad->push_back(lineno);
      continue;
    }
    std::string key = str::lower(l);
    if (key.find('@') != std::string::npos) {
      out.push_back(std::move(key));
    } else {
      for (const auto& d : local_domains) out.push_back(key + "@" + str::lower(d));
    }
  }
  return out;
}

namespace {

// Lines of a control file (trimmed, no blanks or comments); empty if missing.
Result<std::vector<std::string>> control_lines(const std::string& home_dir, std::string_view name) {
  auto text = fs::read_file(home_dir + "/control/" + std::string(name), control::kMaxControlFile);
  std::vector<std::string> out;
  if (!text.is_ok()) {
    if (text.status().err() == ENOENT) return out;
    return text.status();
  }
  for (std::string_view line : str::split(*text, '\n')) {
    std::string_view l = str::trim(line);
    if (!l.empty() && l.front() != '#') out.emplace_back(l);
  }
  return out;
}

Status write_keys(const std::string& home_dir, const std::set<std::string>& keys) {
  std::string dst = home_dir + "/control/recipients.cdb";
  std::string tmp = dst + ".tmp";
  QMAIL_ASSIGN_OR_RETURN(Fd fd, fs::open_trunc(tmp, 0644));
  struct cdb_make cm;
  if (::cdb_make_start(&cm, fd.get()) != 0) return Status::temp_errno("unable to write " + tmp);
  bool failed = false;
  for (const std::string& k : keys) {
    if (::cdb_make_add(&cm, k.data(), static_cast<unsigned>(k.size()), "", 0) != 0) {
      failed = true;
      break;
    }
  }
  int err = errno;
  if (::cdb_make_finish(&cm) != 0 && !failed) {
    failed = true;
    err = errno;
  }
  if (failed) {
    (void)fs::unlink(tmp);
    return Status::temp_errno("unable to write " + tmp, err);
  }
  QMAIL_RETURN_IF_ERROR(fs::fsync(fd));
  // Crash before the rename: qmail-smtpd keeps the old cdb, whole; after
  // it, the new one. The directory fsync makes the rename itself durable.
  QMAIL_RETURN_IF_ERROR(fs::rename(tmp, dst));
  return fs::fsync_dir(home_dir + "/control");
}

}  // namespace

Result<Report> build(const std::string& home_dir) {
  Report report;
  // 1. Mailboxes: users/assign entries, then the alias user, who gets
  //    every local part nobody else has (qmail-getpw's fallback).
  std::vector<users::AssignLine> assign;
  auto text = fs::read_file(home_dir + "/users/assign", users::kMaxAssign);
  if (text.is_ok()) {
    QMAIL_ASSIGN_OR_RETURN(assign, users::parse_assign(*text));
  } else if (text.status().err() != ENOENT) {
    return text.status();
  }
  std::map<std::pair<std::string, std::string>, std::optional<std::set<std::string>>> homes;
  auto exts_of = [&](const std::string& home,
                     const std::string& dash) -> const std::optional<std::set<std::string>>& {
    auto key = std::make_pair(home, dash);
    auto it = homes.find(key);
    if (it != homes.end()) return it->second;
    std::optional<std::set<std::string>> exts;
    auto names = fs::list_dir(home);
    if (names.is_ok()) {
      auto e = extensions(*names, dash);
      exts.emplace(e.begin(), e.end());
    } else {
      report.warnings.push_back("unable to read " + home + ": " + names.status().message() +
                                "; taking all of its addresses as deliverable");
    }
    return homes.emplace(key, std::move(exts)).first->second;
  };
  Names names;
  for (const auto& l : assign) {
    add_entry(names, str::lower(l.address), l.wildcard, str::lower(l.entry.ext),
              exts_of(l.entry.homedir, l.entry.dash));
  }
  add_entry(names, "", true, "", exts_of(home_dir + "/alias", "-"));

  // 2. Domains, routed as qmail-send routes them.
  QMAIL_ASSIGN_OR_RETURN(auto locals, control_lines(home_dir, "locals"));
  if (locals.empty()) {
    QMAIL_ASSIGN_OR_RETURN(auto me, control_lines(home_dir, "me"));
    if (!me.empty()) locals.push_back(me.front());
  }
  std::set<std::string> local_set;
  for (auto& d : locals) local_set.insert(str::lower(d));
  std::map<std::string, std::string> vd;
  auto vtext = fs::read_file(home_dir + "/control/virtualdomains", control::kMaxControlFile);
  if (vtext.is_ok()) {
    vd = send::parse_virtualdomains(*vtext);
  } else if (vtext.status().err() != ENOENT) {
    return vtext.status();
  }
  std::set<std::string> keys;
  for (const auto& d : local_set) add_domain_keys(keys, names, d, "");
  // virtualdomains for a domain: "domain", then each ".suffix", then "".
  auto prepend_of = [&](const std::string& d) -> std::optional<std::string> {
    if (auto it = vd.find(d); it != vd.end()) return it->second;
    for (std::size_t i = 0; i < d.size(); ++i) {
      if (d[i] != '.') continue;
      if (auto it = vd.find(d.substr(i)); it != vd.end()) return it->second;
    }
    if (auto it = vd.find(""); it != vd.end()) return it->second;
    return std::nullopt;
  };
  std::set<std::string> domains;  // every exact domain we accept mail for
  for (const auto& [k, p] : vd) {
    auto at = k.find('@');
    if (at != std::string::npos) {
      std::string d = k.substr(at + 1);
      if (!p.empty() && !local_set.count(d)) add_address_key(keys, names, k.substr(0, at), d, p);
    } else if (!k.empty() && k.front() != '.') {
      domains.insert(k);
    }
  }
  std::vector<std::string> wildcards;
  for (std::string_view file : {"rcpthosts", "morercpthosts"}) {
    QMAIL_ASSIGN_OR_RETURN(auto hosts, control_lines(home_dir, file));
    for (const auto& h : hosts) {
      std::string d = str::lower(h);
      if (d.front() == '.')
        wildcards.push_back(d);
      else
        domains.insert(d);
    }
  }
  for (const auto& [k, p] : vd) {
    if (!k.empty() && k.front() == '.') wildcards.push_back(k);
  }
  for (const auto& d : domains) {
    if (local_set.count(d)) continue;
    auto p = prepend_of(d);
    if (p && !p->empty())
      add_domain_keys(keys, names, d, *p);
    else
      keys.insert("@" + d);  // not ours to deliver: relayed (backup MX), anything goes
  }
  for (const auto& w : wildcards) {
    report.warnings.push_back("cannot list the subdomains of " + w.substr(1) + " (from " + w +
                              "): name each in rcpthosts or control/recipients, or they are "
                              "refused");
  }

  // 3. The admin's own list.
  auto extra = fs::read_file(home_dir + "/control/recipients", control::kMaxControlFile);
  if (extra.is_ok()) {
    std::vector<std::size_t> bad;
    for (auto& k : parse_extra(*extra, locals, &bad)) keys.insert(std::move(k));
    for (std::size_t n : bad)
      report.warnings.push_back("control/recipients line " + std::to_string(n) +
                                ": not an address, skipped");
  } else if (extra.status().err() != ENOENT) {
    return extra.status();
  }

  QMAIL_RETURN_IF_ERROR(write_keys(home_dir, keys));
  report.keys = keys.size();
  return report;
}

Result<std::optional<Report>> refresh_if_enabled(const std::string& home_dir) {
  if (!fs::exists(home_dir + "/control/recipients.cdb")) return std::optional<Report>();
  QMAIL_ASSIGN_OR_RETURN(Report r, build(home_dir));
  return std::optional<Report>(std::move(r));
}

}  // namespace qmail::rcptdb
