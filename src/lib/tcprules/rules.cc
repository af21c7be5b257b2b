#include "tcprules/rules.h"

#include <cdb.h>
#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>

#include "base/strings.h"
#include "cdb/reader.h"
#include "fs/fs.h"
#include "io/fd.h"

namespace qmail::tcprules {

namespace {

bool valid_name(std::string_view n) {
  if (n.empty()) return false;
  for (char c : n) {
    if (c == '=' || c == '\0') return false;
  }
  return true;
}

// tcprules(1): "1.2.3.37-53" stands for 1.2.3.37 ... 1.2.3.53, and
// "10.2-3." for "10.2." and "10.3.": a range "a-b" in one '.'-separated
// component, followed by nothing or by the rest of the address.
Result<std::vector<std::string>> expand_address(std::string_view addr) {
  std::string lowered = str::lower(addr);
  auto at = addr.find('@');
  if (at != std::string_view::npos) {
    // The info part before '@' keeps its case (ident replies are as sent).
    lowered = std::string(addr.substr(0, at + 1)) + str::lower(addr.substr(at + 1));
  }
  std::size_t ip_start = at == std::string::npos ? 0 : at + 1;
  std::size_t dash = lowered.find('-', ip_start);
  bool is_host = lowered.find('=') != std::string::npos;
  if (is_host || dash == std::string::npos) return std::vector<std::string>{lowered};
  std::size_t dot = lowered.rfind('.', dash);
  std::size_t start = dot == std::string::npos || dot < ip_start ? ip_start : dot + 1;
  std::size_t end = lowered.find('.', dash);
  if (end == std::string::npos) end = lowered.size();
  std::string_view suffix = std::string_view(lowered).substr(end);
  auto lo = str::parse_uint(std::string_view(lowered).substr(start, dash - start), 255);
  auto hi = str::parse_uint(std::string_view(lowered).substr(dash + 1, end - dash - 1), 255);
  if (!lo || !hi || *lo > *hi || suffix.find('-') != std::string_view::npos)
    return Status::perm("bad range in address");
  std::vector<std::string> keys;
  for (auto i = *lo; i <= *hi; ++i)
    keys.push_back(lowered.substr(0, start) + std::to_string(i) + std::string(suffix));
  return keys;
}

}  // namespace

Result<std::optional<Rule>> parse_line(std::string_view line) {
  // tcprules(1) ignores white space at the end of a line.
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
    line.remove_suffix(1);
  if (line.size() > kMaxLine) return Status::perm("line too long");
  if (line.empty() || line[0] == '#') return std::optional<Rule>();
  // The address cannot contain ':' except for IPv6; the instructions start
  // after the last ':' that is followed by a letter (allow/deny/NAME=).
  std::size_t colon = std::string_view::npos;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] != ':') continue;
    std::string_view rest = line.substr(i + 1);
    if (rest.starts_with("allow") || rest.starts_with("deny") || rest.empty()) {
      colon = i;
      break;
    }
    if (line.substr(0, i).find('=') == std::string_view::npos && !rest.empty() &&
        (std::isalpha(static_cast<unsigned char>(rest[0])) || rest[0] == '_') &&
        rest.find('=') != std::string_view::npos) {
      // "addr:NAME=..." with no allow/deny: allow is implied.
      std::size_t eq = rest.find('=');
      std::string_view name = rest.substr(0, eq);
      if (name.find(':') == std::string_view::npos && name.find(',') == std::string_view::npos) {
        colon = i;
        break;
      }
    }
  }
  if (colon == std::string_view::npos)
    return Status::perm("no colon (expected address:instructions)");
  std::string_view addr = line.substr(0, colon);
  std::string_view ins = line.substr(colon + 1);
  Rule rule;
  QMAIL_ASSIGN_OR_RETURN(rule.keys, expand_address(addr));
  char verdict = 'A';
  std::string vars;
  std::size_t i = 0;
  bool first = true;
  while (i < ins.size()) {
    if (!first) {
      if (ins[i] != ',') return Status::perm("expected ',' between instructions");
      ++i;
    }
    first = false;
    std::string_view rest = ins.substr(i);
    if (rest.starts_with("allow") && (rest.size() == 5 || rest[5] == ',')) {
      verdict = 'A';
      i += 5;
      continue;
    }
    if (rest.starts_with("deny") && (rest.size() == 4 || rest[4] == ',')) {
      verdict = 'D';
      i += 4;
      continue;
    }
    std::size_t eq = rest.find('=');
    if (eq == std::string_view::npos) return Status::perm("unknown instruction");
    std::string_view name = rest.substr(0, eq);
    if (!valid_name(name) || name.find(',') != std::string_view::npos) {
      return Status::perm("bad variable name");
    }
    if (eq + 1 >= rest.size())
      return Status::perm("missing quote after " + std::string(name) + "=");
    char quote = rest[eq + 1];
    std::size_t end = rest.find(quote, eq + 2);
    if (end == std::string_view::npos) return Status::perm("unterminated value");
    std::string_view value = rest.substr(eq + 2, end - (eq + 2));
    if (value.find('\0') != std::string_view::npos) return Status::perm("NUL in value");
    vars += '+';
    vars += name;
    vars += '=';
    vars += value;
    vars += '\0';
    i += end + 1;
  }
  // tcprules' records, each NUL-terminated: "D" for deny (none for
  // allow), then "+NAME=value" per variable. tcpserver acts on each
  // record's first byte.
  rule.data = verdict == 'D' ? std::string("D\0", 2) + vars : vars;
  if (rule.data.size() > kMaxData) return Status::perm("rule too long");
  return std::optional<Rule>(std::move(rule));
}

Result<std::vector<Rule>> parse(std::string_view text) {
  std::vector<Rule> rules;
  std::size_t lineno = 0;
  while (!text.empty()) {
    ++lineno;
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    auto r = parse_line(line);
    if (!r.is_ok())
      return Status::perm("line " + std::to_string(lineno) + ": " + r.status().message());
    if (r->has_value()) rules.push_back(std::move(**r));
  }
  return rules;
}

Status write_cdb(const std::vector<Rule>& rules, const std::string& cdb, const std::string& tmp) {
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return Status::temp_errno("unable to create " + tmp);
  struct cdb_make cm;
  if (::cdb_make_start(&cm, fd.get()) != 0) return Status::temp_errno("unable to write " + tmp);
  bool failed = false;
  for (const Rule& r : rules) {
    for (const std::string& k : r.keys) {
      // First rule for a key wins: cdb_find returns the first record added.
      if (!failed && ::cdb_make_add(&cm, k.data(), static_cast<unsigned>(k.size()), r.data.data(),
                                    static_cast<unsigned>(r.data.size())) != 0) {
        failed = true;
      }
    }
  }
  int err = errno;
  if (::cdb_make_finish(&cm) != 0 && !failed) {
    failed = true;
    err = errno;
  }
  if (failed) {
    ::unlink(tmp.c_str());
    return Status::temp_errno("unable to write " + tmp, err);
  }
  // Crash before the rename: the old cdb stays whole; after it: the new one.
  if (::fsync(fd.get()) != 0) return Status::temp_errno("unable to fsync " + tmp);
  if (::rename(tmp.c_str(), cdb.c_str()) != 0) {
    return Status::temp_errno("unable to move " + tmp + " to " + cdb);
  }
  // The rename itself survives a crash only once the directory is synced.
  return fs::fsync_dir(fs::dirname(cdb));
}

Result<Decision> decode(std::string_view data) {
  Decision d;
  std::size_t i = 0;
  // Written by qmail-tcprules before session 11: a verdict letter first,
  // not a record of its own ("A..." allow, "D" or "D+..." deny).
  if (!data.empty() &&
      (data[0] == 'A' || (data[0] == 'D' && (data.size() == 1 || data[1] != '\0')))) {
    d.allow = data[0] == 'A';
    i = 1;
  }
  // tcprules' records, as tcpserver reads them: "D" denies, "+NAME=value"
  // sets a variable, anything else is room to grow.
  while (i < data.size()) {
    std::size_t nul = data.find('\0', i);
    if (nul == std::string_view::npos) return Status::perm("bad rule data");
    std::string_view entry = data.substr(i, nul - i);
    i = nul + 1;
    if (entry.empty()) continue;
    if (entry[0] == 'D') {
      d.allow = false;
      continue;
    }
    if (entry[0] != '+') continue;
    entry.remove_prefix(1);
    std::size_t eq = entry.find('=');
    if (eq == std::string_view::npos || eq == 0) return Status::perm("bad rule data");
    d.env.emplace_back(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return d;
}

std::vector<std::string> lookup_keys(std::string_view ip, std::string_view host,
                                     std::string_view info) {
  std::vector<std::string> keys;
  std::string h = str::lower(host);
  std::string addr = str::lower(ip);
  if (!info.empty()) {
    keys.push_back(std::string(info) + "@" + addr);
    if (!h.empty()) keys.push_back(std::string(info) + "@=" + h);
  }
  keys.push_back(addr);
  if (!h.empty()) keys.push_back("=" + h);
  bool v6 = addr.find(':') != std::string::npos;
  for (std::size_t n = addr.size(); n > 0; --n) {
    char c = addr[n - 1];
    if ((c == '.' || (v6 && c == ':')) && n < addr.size()) keys.push_back(addr.substr(0, n));
  }
  if (!h.empty()) {
    for (std::size_t n = 0; n < h.size(); ++n) {
      if (h[n] == '.') keys.push_back("=" + h.substr(n));
    }
    keys.push_back("=");
  }
  keys.push_back("");
  return keys;
}

Result<std::optional<Decision>> lookup(const std::string& path, std::string_view ip,
                                       std::string_view host, std::string_view info,
                                       bool missing_ok) {
  auto db = cdb::Reader::open(path);
  if (!db.is_ok()) return Status::temp("unable to read " + path + ": " + db.status().message());
  if (!*db) {
    if (missing_ok) return std::optional<Decision>();
    return Status::temp_errno("unable to read " + path, ENOENT);
  }
  for (const std::string& k : lookup_keys(ip, host, info)) {
    auto v = (*db)->find(k);
    if (!v.is_ok()) return Status::temp("unable to read " + path + ": corrupt cdb");
    if (!v->has_value()) continue;
    auto d = decode(**v);
    if (!d.is_ok()) return Status::temp("unable to read " + path + ": " + d.status().message());
    return std::optional<Decision>(std::move(*d));
  }
  return std::optional<Decision>();
}

}  // namespace qmail::tcprules
