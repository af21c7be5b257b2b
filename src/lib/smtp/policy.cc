#include "smtp/policy.h"

#include <arpa/inet.h>
#include <cdb.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <cstring>

#include "base/strings.h"
#include "cdb/reader.h"
#include "fs/fs.h"
#include "home/home.h"
#include "io/fd.h"

namespace qmail::smtp {

RcptHosts::RcptHosts() = default;
RcptHosts::~RcptHosts() = default;
RcptHosts::RcptHosts(RcptHosts&&) noexcept = default;
RcptHosts& RcptHosts::operator=(RcptHosts&&) noexcept = default;

RcptHosts RcptHosts::from_lines(const std::vector<std::string>& lines) {
  RcptHosts r;
  r.supplied_ = true;
  for (const auto& l : lines) r.hosts_.insert(str::lower(l));
  return r;
}

Result<RcptHosts> RcptHosts::load() {
  // qmail-smtpd(8): "If rcpthosts is supplied, qmail-smtpd will reject any
  // envelope recipient address with a domain not listed".
  QMAIL_ASSIGN_OR_RETURN(auto lines, control::read_lines_if_any("rcpthosts"));
  if (!lines) return RcptHosts();
  RcptHosts r = from_lines(*lines);
  QMAIL_ASSIGN_OR_RETURN(r.cdb_, control::read_cdb("morercpthosts.cdb"));
  return r;
}

Result<bool> RcptHosts::allows(std::string_view domain) const {
  if (!supplied_) return true;
  std::string d = str::lower(domain);
  auto has = [&](std::string_view key) -> Result<bool> {
    if (hosts_.count(std::string(key))) return true;
    if (cdb_) return cdb_->contains(key);
    return false;
  };
  QMAIL_ASSIGN_OR_RETURN(bool exact, has(d));
  if (exact) return true;
  // qmail-smtpd(8) wildcards: ".heaven.af.mil" allows every name below it.
  for (std::size_t i = 0; i < d.size(); ++i) {
    if (d[i] != '.') continue;
    QMAIL_ASSIGN_OR_RETURN(bool wild, has(std::string_view(d).substr(i)));
    if (wild) return true;
  }
  return false;
}

Recipients::Recipients() = default;
Recipients::~Recipients() = default;
Recipients::Recipients(Recipients&&) noexcept = default;
Recipients& Recipients::operator=(Recipients&&) noexcept = default;

Result<Recipients> Recipients::open(const std::string& path) {
  Recipients r;
  QMAIL_ASSIGN_OR_RETURN(r.cdb_, cdb::Reader::open(path));
  return r;
}

Result<Recipients> Recipients::load() {
  Recipients r;
  QMAIL_ASSIGN_OR_RETURN(r.cdb_, control::read_cdb("recipients.cdb"));
  return r;
}

Result<bool> Recipients::accepts(std::string_view local, std::string_view domain) const {
  if (!cdb_) return true;
  if (str::iequals(local, "postmaster")) return true;
  std::string l = str::lower(local), d = str::lower(domain);
  auto has = [&](const std::string& key) { return cdb_->contains(key); };
  QMAIL_ASSIGN_OR_RETURN(bool exact, has(l + "@" + d));
  if (exact) return true;
  // "box-ext-more" is covered by "box-ext-@d" and by "box-@d".
  for (std::size_t i = l.size(); i-- > 0;) {
    if (l[i] != '-') continue;
    QMAIL_ASSIGN_OR_RETURN(bool wild, has(l.substr(0, i + 1) + "@" + d));
    if (wild) return true;
  }
  return has("@" + d);
}

BadMailFrom BadMailFrom::from_lines(const std::vector<std::string>& lines) {
  BadMailFrom b;
  for (const auto& l : lines) b.entries_.insert(str::lower(l));
  return b;
}

Result<BadMailFrom> BadMailFrom::load() {
  QMAIL_ASSIGN_OR_RETURN(auto lines, control::read_lines("badmailfrom"));
  return from_lines(lines);
}

bool BadMailFrom::matches(std::string_view sender) const {
  if (sender.empty() || entries_.empty()) return false;
  std::string s = str::lower(sender);
  if (entries_.count(s)) return true;
  std::size_t at = s.rfind('@');
  return at != std::string::npos && entries_.count(s.substr(at));
}

void LocalIps::add(std::string_view ip) {
  std::string s(ip);
  unsigned char buf[16];
  if (::inet_pton(AF_INET, s.c_str(), buf) == 1)
    addrs_.emplace_back(reinterpret_cast<char*>(buf), 4);
  else if (::inet_pton(AF_INET6, s.c_str(), buf) == 1)
    addrs_.emplace_back(reinterpret_cast<char*>(buf), 16);
}

LocalIps LocalIps::load(const char* tcplocalip) {
  LocalIps l;
  if (tcplocalip) l.add(tcplocalip);
  return l;
}

void LocalIps::add_interfaces() const {
  interfaces_ = true;
  struct ifaddrs* ifa = nullptr;
  if (::getifaddrs(&ifa) != 0) return;
  for (auto* p = ifa; p; p = p->ifa_next) {
    if (!p->ifa_addr) continue;
    if (p->ifa_addr->sa_family == AF_INET) {
      auto* sin = reinterpret_cast<sockaddr_in*>(p->ifa_addr);
      addrs_.emplace_back(reinterpret_cast<char*>(&sin->sin_addr), 4);
    } else if (p->ifa_addr->sa_family == AF_INET6) {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(p->ifa_addr);
      addrs_.emplace_back(reinterpret_cast<char*>(&sin6->sin6_addr), 16);
    }
  }
  ::freeifaddrs(ifa);
}

bool LocalIps::is_local_literal(std::string_view literal) const {
  if (literal.size() < 3 || literal.front() != '[' || literal.back() != ']') return false;
  std::string_view in = literal.substr(1, literal.size() - 2);
  std::string s;
  int af = AF_INET;
  std::size_t len = 4;
  if (str::istarts_with(in, "ipv6:")) {
    s.assign(in.substr(5));
    af = AF_INET6;
    len = 16;
  } else {
    s.assign(in);
  }
  if (s.find('\0') != std::string::npos) return false;
  unsigned char buf[16];
  if (::inet_pton(af, s.c_str(), buf) != 1) return false;
  std::string key(reinterpret_cast<char*>(buf), len);
  for (;;) {
    for (const auto& a : addrs_)
      if (a == key) return true;
    if (interfaces_) return false;
    add_interfaces();
  }
}

Status make_morercpthosts(const std::string& home_dir) {
  std::string src = home_dir + "/control/morercpthosts";
  std::string dst = home_dir + "/control/morercpthosts.cdb";
  // A missing morercpthosts is a problem too (qmail-newmrh(8)): as qmail's,
  // it complains and leaves the cdb alone.
  auto r = fs::read_file(src, control::kMaxControlFile);
  if (!r.is_ok())
    return Status::temp("unable to read control/morercpthosts: " + r.status().message());
  std::string text = std::move(r).value();
  std::string tmp = dst + ".tmp";
  QMAIL_ASSIGN_OR_RETURN(Fd fd, fs::open_trunc(tmp, 0644));
  struct cdb_make cm;
  if (::cdb_make_start(&cm, fd.get()) != 0) return Status::temp_errno("unable to write " + tmp);
  bool failed = false;
  for (std::string_view line : str::split(text, '\n')) {
    // qmail-control(5): trailing spaces and tabs are removed; we also skip
    // empty lines and comments, as control::read_lines does.
    std::string_view l = str::trim(line);
    if (l.empty() || l.front() == '#') continue;
    std::string key = str::lower(l);
    if (::cdb_make_add(&cm, key.data(), static_cast<unsigned>(key.size()), "", 0) != 0) {
      failed = true;
      break;
    }
  }
  if (::cdb_make_finish(&cm) != 0 || failed) {
    (void)fs::unlink(tmp);
    return Status::temp_errno("unable to write " + tmp);
  }
  QMAIL_RETURN_IF_ERROR(fs::fsync(fd));
  // Crash before the rename: the old cdb stays, whole. After: the new one.
  QMAIL_RETURN_IF_ERROR(fs::rename(tmp, dst));
  return fs::fsync_dir(home_dir + "/control");
}

}  // namespace qmail::smtp
