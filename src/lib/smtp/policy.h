// qmail-smtpd's control files that decide which envelopes it takes
// (qmail-smtpd(8)): rcpthosts with morercpthosts.cdb, badmailfrom, and the
// local IP addresses behind "box@[d.d.d.d]" (localiphost).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "base/status.h"

namespace qmail::cdb {
class Reader;
}  // namespace qmail::cdb

namespace qmail::smtp {

// Allowed RCPT domains: control/rcpthosts (exact names and ".suffix"
// wildcards) plus control/morercpthosts.cdb (same keys, built by
// qmail-newmrh). Domains are compared in lowercase. As qmail-smtpd(8)
// says, the check applies only "if rcpthosts is supplied": without
// control/rcpthosts every domain is allowed (morercpthosts is then
// ignored, being only "appended to rcpthosts").
class RcptHosts {
 public:
  RcptHosts();
  ~RcptHosts();
  RcptHosts(RcptHosts&&) noexcept;
  RcptHosts& operator=(RcptHosts&&) noexcept;

  // Reads both files from the home. A missing morercpthosts.cdb is empty;
  // a missing rcpthosts allows everything. Errors: temp when a file exists
  // but cannot be read.
  static Result<RcptHosts> load();
  // For tests: the rcpthosts lines given, no cdb.
  static RcptHosts from_lines(const std::vector<std::string>& lines);

  // Is `domain` (any case) allowed: "x.y" matches line "x.y", and any
  // line ".y" or ".x.y"? Always true without control/rcpthosts. Errors:
  // temp when the cdb is corrupt.
  Result<bool> allows(std::string_view domain) const;
  // control/rcpthosts exists (even empty: then only morercpthosts counts).
  bool supplied() const { return supplied_; }

 private:
  bool supplied_ = false;
  std::unordered_set<std::string> hosts_;
  std::shared_ptr<const cdb::Reader> cdb_;
};

// control/badmailfrom: addresses ("a@b", any case) and "@host" lines.
class BadMailFrom {
 public:
  static Result<BadMailFrom> load();
  static BadMailFrom from_lines(const std::vector<std::string>& lines);
  bool matches(std::string_view sender) const;

 private:
  std::unordered_set<std::string> entries_;
};

// The addresses of this host, for recognising address literals: every
// interface address (getifaddrs) plus $TCPLOCALIP. `literal` is a domain
// "[1.2.3.4]" or "[IPv6:...]" from a parsed path.
// The host's own addresses, for address-literal recipients. The
// interfaces' addresses are listed (a netlink dump) only when a literal
// does not match $TCPLOCALIP: most sessions never see a literal, and
// the dump cost a tenth of a millisecond at every connection.
class LocalIps {
 public:
  static LocalIps load(const char* tcplocalip);
  bool is_local_literal(std::string_view literal) const;
  void add(std::string_view ip);

 private:
  void add_interfaces() const;
  mutable std::vector<std::string> addrs_;  // 4 or 16 raw bytes each
  mutable bool interfaces_ = false;
};

// Recipient validation (docs/smtpd.md), off unless
// control/recipients.cdb exists. Its keys are lowercase addresses with
// empty values:
//   "box@domain"   this address is deliverable
//   "box-@domain"  every "box-anything@domain" is (qmail's dash extensions)
//   "@domain"      everything at domain is accepted (backup MX, catch-all)
// "postmaster" at any domain is always accepted (RFC 5321 4.5.1).
class Recipients {
 public:
  Recipients();
  ~Recipients();
  Recipients(Recipients&&) noexcept;
  Recipients& operator=(Recipients&&) noexcept;

  // Opens control/recipients.cdb if it exists. Errors: temp when it
  // exists but cannot be opened or mapped.
  static Result<Recipients> load();
  static Result<Recipients> open(const std::string& cdb_path);
  bool enabled() const { return cdb_ != nullptr; }
  // Is local@domain deliverable? Always true when not enabled. Errors:
  // temp when the cdb is corrupt.
  Result<bool> accepts(std::string_view local, std::string_view domain) const;

 private:
  std::shared_ptr<const cdb::Reader> cdb_;
};

// qmail-newmrh(8): compiles HOME/control/morercpthosts into
// HOME/control/morercpthosts.cdb (lowercased keys, empty values) with a
// temporary file, fsync and rename. Errors: temp.
Status make_morercpthosts(const std::string& home_dir);

}  // namespace qmail::smtp
