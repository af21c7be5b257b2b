// qmail-newu(8): compiles HOME/users/assign into HOME/users/cdb.
#include "base/run_program.h"
#include "home/home.h"
#include "users/users.h"

namespace {
qmail::Status newu(std::span<char*>) {
  qmail::Status s = qmail::users::newu(qmail::home::dir());
  // qmail-newu(8) exits 111 on any trouble, a bad assign file included:
  // users/cdb was left alone, and rerunning after the fix helps.
  if (s.is_perm()) return qmail::Status::temp(s.message());
  return s;
}
}  // namespace

int main(int argc, char** argv) { return qmail::run_program("qmail-newu", argc, argv, newu); }
