// qmail-rspawn(8): the remote delivery job. For each recipient it runs
// HOME/bin/qmail-remote host sender recipient with the message on fd 0
// and translates qmail-remote's r/h/s and K/Z/D reports.
#pragma once

#include <span>

#include "base/status.h"
#include "spawn/spawner.h"

namespace qmail::spawn {

class RemoteJob : public Job {
 public:
  // `builtin`: HOME/bin/qmail-remote is our own program, whose code runs
  // in the child without exec (spawn/builtin.h); ignored when
  // $QMAILREMOTE names another program.
  explicit RemoteJob(bool builtin = false) : builtin_(builtin) {}
  [[noreturn]] void run_child(const Command& c) override;
  Reply translate(int wstat, std::string_view output) override;

 private:
  bool builtin_;
};

Status rspawn_main(std::span<char*> args);

}  // namespace qmail::spawn
