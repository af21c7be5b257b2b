// qmail's sendmail wrapper (sendmail(8)): turns a sendmail command line
// into a run of qmail-inject (or qmail-qread for -bp and mailq, qmail-smtpd
// for -bs). plan() is pure, so the option handling is unit-tested; the
// program only applies the plan and execs.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace qmail::inject {

struct SendmailPlan {
  enum class Action { kInject, kQread, kSmtpd, kUsage, kNewaliases };
  Action action = Action::kInject;
  // For kInject: qmail-inject's arguments after argv[0].
  std::vector<std::string> args;
  // Environment changes, applied in this order: unset, then set.
  std::vector<std::string> unset;
  std::vector<std::pair<std::string, std::string>> set;
};

inline constexpr const char* kSendmailUsage =
    "usage: sendmail [ -t ] [ -fsender ] [ -Fname ] [ -bp ] [ -bs ] [ arg ... ]";

// `args[0]` is the name the program was called by ("mailq" and
// "newaliases" have their own meaning); `have_proto` tells whether $PROTO
// is set (-bs then leaves the TCP environment alone).
SendmailPlan plan_sendmail(std::span<char*> args, bool have_proto);

}  // namespace qmail::inject
