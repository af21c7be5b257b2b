// qmail-inject(8): preparing a message as qmail-header(5) describes (new
// From, Date, Message-ID fields, address lists rewritten to full RFC 5322
// form, Bcc removed, envelope sender and recipients chosen) and handing it
// to qmail-queue.
//
// load() gathers every input (argv, environment, control files) into
// Settings; prepare() is the pure transformation of the header, so tests
// can drive it without a process; run() is the program.
#pragma once

#include <ctime>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "addr/addr.h"
#include "base/status.h"

namespace qmail::inject {

// Which recipients go into the envelope: qmail-inject(8) -a, -A, -h, -H.
enum class Recip {
  kDefault,  // -A: the arguments, or the header when there are none
  kArgs,     // -a: the arguments only
  kHeader,   // -h: the header only (arguments ignored)
  kBoth,     // -H: both
};

struct Settings {
  // Control files (qmail-inject(8) CONTROL FILES), environment overrides
  // applied.
  std::string defaultdomain = "defaultdomain";
  std::string defaulthost = "defaulthost";
  std::string plusdomain = "plusdomain";
  std::string idhost = "idhost";
  // The default From: QMAILUSER... and QMAILHOST/MAILHOST, QMAILNAME....
  std::string mailuser = "anonymous";
  std::optional<std::string> mailhost;
  std::optional<std::string> fullname;
  // The default envelope sender: QMAILSUSER, QMAILSHOST (else the above).
  std::string mailruser = "anonymous";
  std::optional<std::string> mailrhost;
  // QMAILINJECT letters.
  bool name_comment = false;        // c
  bool ignore_return_path = false;  // s
  bool delete_from = false;         // f
  bool delete_message_id = false;   // i
  bool verp_recipient = false;      // r
  bool verp_message = false;        // m
  // Addresses from $QMAILMFTFILE (lines of that file); nullopt when the
  // variable is unset or the file does not exist.
  std::optional<std::vector<std::string>> mft;
  // Options.
  Recip recip = Recip::kDefault;
  bool print = false;                 // -n
  std::optional<std::string> sender;  // -f, as given
  std::vector<std::string> args;      // recipient arguments, as given
  // Stamps.
  std::time_t now = 0;
  long pid = 0;
};

using Getenv = std::function<const char*(const char*)>;

// Reads options (args[0] is the program name), the environment through
// `getenv`, QMAILMFTFILE and the control files under the home. Errors:
// perm for a usage error; temp when a control file or QMAILMFTFILE
// cannot be read.
Result<Settings> load(std::span<char*> args, const Getenv& getenv);

// qmail-header(5)'s address rewriting: strip the route (done by the
// parser), add defaulthost to an address without a host, replace a final
// '+' by "." + plusdomain, add "." + defaultdomain to a host without dots.
// The null address <> and the domain literal [] are left alone.
class Rewriter {
 public:
  explicit Rewriter(const Settings& s) : s_(s) {}
  void rewrite(addr::Mailbox& m) const;
  // An envelope address from the command line (a recipient argument or
  // -f): parsed in header form after quoting its local part, then
  // rewritten. "" and "<>" give "" (the null sender). Errors: perm when it
  // is not one address.
  Result<std::string> envelope(std::string_view arg) const;

 private:
  const Settings& s_;
};

struct Prepared {
  // The header to write, every field ending in '\n': with -n first
  // "Return-Path: <sender>", then the new fields, then the message's own
  // fields, rewritten, minus the deleted ones.
  std::string header;
  std::string sender;
  std::vector<std::string> recipients;
};

// Applies qmail-header(5) to `fields` (as header::Parser gives them).
// Errors: perm for an unparsable address where it decides the envelope
// (recipient fields used for recipients, Return-Path setting the sender,
// recipient arguments, -f), or a NUL byte in an envelope address.
Result<Prepared> prepare(const Settings& s, const std::vector<std::string>& fields);

// The program: reads the message on fd 0 and queues it (or prints it with
// -n). Errors: perm for bad usage, bad addresses, no recipients, a header
// past header::kMaxHeader, or a permanent qmail-queue code; temp otherwise.
Status run(std::span<char*> args);

}  // namespace qmail::inject
