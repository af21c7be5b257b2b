// qmail-rspawn(8): the remote delivery job when qmail-remote is exec'd
// ($QMAILREMOTE, or a program at HOME/bin/qmail-remote that is not our
// own; ours runs in workers instead, spawn/rpool.h). For each recipient it
// runs the program with host sender recipient and the message on fd 0 and
// translates qmail-remote's r/h/s and K/Z/D reports.
#pragma once

#include <span>

#include "base/status.h"
#include "spawn/spawner.h"

namespace qmail::spawn {

class RemoteJob : public Job {
 public:
  [[noreturn]] void run_child(const Command& c) override;
  Reply translate(int wstat, std::string_view output) override;
  bool may_rest() const override { return true; }
};

Status rspawn_main(std::span<char*> args);

}  // namespace qmail::spawn
