// qmail-newu(8): compiles HOME/users/assign into HOME/users/cdb.
#include "base/log.h"
#include "base/run_program.h"
#include "home/home.h"
#include "rcptdb/rcptdb.h"
#include "users/users.h"

namespace {
qmail::Status newu(std::span<char*>) {
  qmail::Status s = qmail::users::newu(qmail::home::dir());
  // qmail-newu(8) exits 111 on any trouble, a bad assign file included:
  // users/cdb was left alone, and rerunning after the fix helps.
  if (s.is_perm()) return qmail::Status::temp(s.message());
  if (!s.is_ok()) return s;
  // Recipient validation on (control/recipients.cdb exists): the new
  // assignments change what is deliverable, so qmail-newrcpt's job too.
  auto r = qmail::rcptdb::refresh_if_enabled(qmail::home::dir());
  if (!r.is_ok())
    return qmail::Status::temp("users/cdb is new but control/recipients.cdb is not: " +
                               r.status().message() + "; fix it and run qmail-newrcpt");
  if (*r)
    for (const auto& w : (*r)->warnings) qmail::log::warn(w);
  return qmail::Status::ok();
}
}  // namespace

int main(int argc, char** argv) { return qmail::run_program("qmail-newu", argc, argv, newu); }
