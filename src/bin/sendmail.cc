// sendmail(8): qmail's sendmail wrapper; runs qmail-inject (or qmail-qread,
// qmail-smtpd) as inject::plan_sendmail decides. qmail-inject runs in this
// process (the same code, under its own name) rather than by exec: one
// program start less per message.
#include "inject/sendmail.h"

#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "base/exit_codes.h"
#include "base/log.h"
#include "base/run_program.h"
#include "home/home.h"
#include "inject/inject.h"

namespace {

int exec_program(const char* rel, const std::vector<std::string>& args) {
  std::string path = qmail::home::path(std::string("bin/") + rel);
  std::vector<char*> argv;
  std::string name = rel;
  argv.push_back(name.data());
  std::vector<std::string> copy = args;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv(path.c_str(), argv.data());
  qmail::log::fatal(std::string("unable to run ") + rel);
  return qmail::exitcode::kTemp;
}

int sendmail_main(std::span<char*> args) {
  using Action = qmail::inject::SendmailPlan::Action;
  auto p = qmail::inject::plan_sendmail(args, std::getenv("PROTO") != nullptr);
  for (const auto& n : p.unset) ::unsetenv(n.c_str());
  for (const auto& [k, v] : p.set) ::setenv(k.c_str(), v.c_str(), 1);
  switch (p.action) {
    case Action::kUsage:
      qmail::log::raw(std::string("sendmail: ") + qmail::inject::kSendmailUsage);
      return qmail::exitcode::kPerm;
    case Action::kNewaliases:
      qmail::log::fatal("please use fastforward/newaliases instead");
      return qmail::exitcode::kPerm;
    case Action::kQread:
      return exec_program("qmail-qread", {});
    case Action::kSmtpd:
      return exec_program("qmail-smtpd", {});
    case Action::kInject: {
      std::vector<std::string> copy = p.args;
      std::vector<char*> argv;
      std::string name = "qmail-inject";
      argv.push_back(name.data());
      for (std::string& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      return qmail::run_program("qmail-inject", static_cast<int>(argv.size() - 1), argv.data(),
                                qmail::inject::run);
    }
  }
  return qmail::exitcode::kTemp;
}

}  // namespace

int main(int argc, char** argv) {
  return qmail::run_program("sendmail", argc, argv, sendmail_main);
}
