#include "inject/sendmail.h"

#include <cstring>
#include <string_view>

#include "inject/getopt.h"

namespace qmail::inject {

SendmailPlan plan_sendmail(std::span<char*> args, bool have_proto) {
  using Action = SendmailPlan::Action;
  SendmailPlan p;
  std::string_view prog = args.empty() || !args[0] ? "sendmail" : args[0];
  if (auto slash = prog.rfind('/'); slash != std::string_view::npos) prog.remove_prefix(slash + 1);

  bool headers = false;
  std::optional<std::string> sender;
  std::optional<std::string> name;
  // The letters qmail's sendmail accepts; all but t, f, F, b are ignored
  // (qmail has one delivery mode, one error mode, and -i is its default).
  GetOpt opt(args, "vimte:f:p:o:B:F:EJxb:");
  for (int c; (c = opt.next()) != 0;) {
    switch (c) {
      case 't':
        headers = true;
        break;
      case 'f':
        sender = opt.arg();
        break;
      case 'F':
        name = opt.arg();
        break;
      case 'B':
      case 'p':
      case 'v':
      case 'i':
      case 'x':
      case 'm':
      case 'e':
      case 'o':
        break;
      case 'E':
      case 'J':
        opt.skip_rest();  // an optional argument glued to the letter
        break;
      case 'b':
        switch (opt.arg()[0]) {
          case 'm':
            break;
          case 'p':
            p.action = Action::kQread;
            return p;
          case 's':
            p.action = Action::kSmtpd;
            if (!have_proto) {
              // qmail-smtpd(8) expects tcpserver's environment; a local
              // session is a trusted relay client without a size limit.
              p.set = {{"RELAYCLIENT", ""},
                       {"DATABYTES", "0"},
                       {"PROTO", "TCP"},
                       {"TCPLOCALIP", "127.0.0.1"},
                       {"TCPLOCALHOST", "localhost"},
                       {"TCPREMOTEIP", "127.0.0.1"},
                       {"TCPREMOTEHOST", "localhost"},
                       {"TCPREMOTEINFO", "sendmail-bs"}};
            }
            return p;
          default:
            p.action = Action::kUsage;
            return p;
        }
        break;
      default:
        p.action = Action::kUsage;
        return p;
    }
  }
  if (prog == "mailq") {
    p.action = Action::kQread;
    return p;
  }
  if (prog == "newaliases") {
    p.action = Action::kNewaliases;
    return p;
  }
  p.args.push_back(headers ? "-H" : "-a");
  if (sender) {
    p.args.push_back("-f");
    p.args.push_back(*sender);
  }
  if (sender && !sender->empty() && *sender != "<>") {
    // The From field shows the sender: its user and host replace the
    // caller's, and a name from the environment no longer fits. (The null
    // sender says nothing about who writes.)
    p.unset = {"QMAILNAME", "MAILNAME", "NAME", "QMAILHOST", "MAILHOST"};
    std::string_view s = *sender;
    auto at = s.rfind('@');
    if (at == std::string_view::npos) {
      p.set.emplace_back("QMAILUSER", std::string(s));
    } else {
      p.set.emplace_back("QMAILHOST", std::string(s.substr(at + 1)));
      p.set.emplace_back("QMAILUSER", std::string(s.substr(0, at)));
    }
  }
  // -F names the sender; it is applied after -f's clean-up so that it wins.
  if (name) p.set.emplace_back("MAILNAME", *name);
  p.args.push_back("--");
  for (std::size_t i = opt.index(); i < args.size() && args[i]; ++i) p.args.emplace_back(args[i]);
  return p;
}

}  // namespace qmail::inject
