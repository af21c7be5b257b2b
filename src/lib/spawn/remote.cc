#include "spawn/remote.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "home/home.h"
#include "queue/layout.h"
#include "spawn/builtin.h"
#include "spawn/local.h"
#include "spawn/rpool.h"

namespace qmail::spawn {

namespace {
// A report in qmail-remote's own format, so translate() treats it alike.
[[noreturn]] void remote_fail(std::string_view text) {
  std::string rep = "Z";
  rep += text;
  rep += '\0';
  child_fail(rep, 0);
}
}  // namespace

void RemoteJob::run_child(const Command& c) {
  // notqmail's qmail-rspawn: $QMAILREMOTE, when set, names the program
  // to run instead of qmail-remote (same arguments, same reports).
  const char* alt = ::getenv("QMAILREMOTE");
  std::string prog = alt && *alt ? std::string(alt) : home::path("bin/qmail-remote");
  // Until qmail-remote is installed, remote mail stays queued.
  if (::access(prog.c_str(), X_OK) != 0) remote_fail("qmail-remote is not installed (#4.3.0)\n");
  std::string local, host;
  split_address(c.recipient, &local, &host);
  std::string mess = queue::Layout::from_home().mess(c.id);
  int m = ::open(mess.c_str(), O_RDONLY);
  if (m < 0) remote_fail("Unable to open the message file. (#4.3.0)\n");
  if (m != 0) {
    if (::dup2(m, 0) != 0) remote_fail("Unable to dup the message. (#4.3.0)\n");
    ::close(m);
  }
  char* const argv[] = {const_cast<char*>("qmail-remote"), const_cast<char*>(host.c_str()),
                        const_cast<char*>(c.sender.c_str()), const_cast<char*>(c.recipient.c_str()),
                        nullptr};
  ::execv(prog.c_str(), argv);
  remote_fail("Unable to run qmail-remote. (#4.3.0)\n");
}

Reply RemoteJob::translate(int wstat, std::string_view output) {
  return remote_result(wstat, output);
}

Status rspawn_main(std::span<char*>) {
  // Our own qmail-remote: its code in long-lived workers that keep SMTP
  // sessions open (spawn/rpool.h). $QMAILREMOTE or another program at
  // bin/qmail-remote: exec'd per delivery.
  // In a root-mode home qmailr cannot read qmail-remote (mode 0711):
  // qmail-start, still root, looked for the mark (kRemoteMarkVar).
  const char* alt = ::getenv("QMAILREMOTE");
  std::string remote = home::path("bin/qmail-remote");
  if (!(alt && *alt) && (carries_mark(remote, QMAIL_BUILTIN_MARK_REMOTE) ||
                         token_names_file(remote, ::getenv(kRemoteMarkVar))))
    return serve_pool(0, 1);
  RemoteJob job;
  return serve(job, 0, 1);
}

}  // namespace qmail::spawn
