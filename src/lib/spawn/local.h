// qmail-lspawn(8): the local delivery job. For each recipient it finds the
// user that controls the address (qmail-users(5) users/cdb first, then
// HOME/bin/qmail-getpw), and runs HOME/bin/qmail-local as that user in
// the user's home directory with the message on fd 0.
#pragma once

#include <sys/types.h>

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/status.h"
#include "spawn/spawner.h"
#include "users/users.h"

namespace qmail::spawn {

// qmail-getpw(8) output: user\0uid\0gid\0homedir\0dash\0ext\0.
// Errors: perm on anything else (the caller reports it as temporary: it
// is a sibling's bug, not the recipient's fault).
Result<users::Entry> parse_getpw(std::string_view out);

// Splits `recipient` at its last '@' into local part and domain (domain
// empty when there is no '@').
void split_address(std::string_view recipient, std::string* local, std::string* domain);

class LocalJob : public Job {
 public:
  // `refuse_root`: fail deliveries to uid 0 temporarily (qmail's rule; off
  // in a single-user home, where every program runs as the one user).
  // `builtin`: HOME/bin/qmail-local is our own program, whose code runs in
  // the child without exec (spawn/builtin.h).
  LocalJob(std::string defaultdelivery, bool refuse_root, bool builtin = false)
      : defaultdelivery_(std::move(defaultdelivery)),
        refuse_root_(refuse_root),
        builtin_(builtin) {}
  [[noreturn]] void run_child(const Command& c) override;
  Reply translate(int wstat, std::string_view output) override;
  // With our own qmail-local, a delivery to an address found in
  // users/cdb goes to a worker of the user's uid and gid (spawner.h),
  // which opens nothing of the queue: the spawner sends it the message.
  // Anything else (qmail-getpw, a refused root, a message that cannot be
  // opened) is a child's as before, which reports it.
  std::optional<WorkerJob> worker_job(const Command& c) override;
  bool start_worker(const std::string& key) override;
  int run_in_worker(const std::string& payload, std::vector<Fd>& fds) override;

 private:
  std::string defaultdelivery_;
  bool refuse_root_;
  bool builtin_;
};

// qmail-lspawn main: args = {"qmail-lspawn", defaultdelivery}.
Status lspawn_main(std::span<char*> args);

}  // namespace qmail::spawn
