// qmail-newmrh(8): compiles control/morercpthosts into
// control/morercpthosts.cdb.
#include "base/run_program.h"
#include "home/home.h"
#include "smtp/policy.h"

namespace {
qmail::Status newmrh(std::span<char*>) {
  qmail::Status s = qmail::smtp::make_morercpthosts(qmail::home::dir());
  // Any trouble leaves the old cdb in place; rerunning after a fix helps.
  if (!s.is_ok()) return qmail::Status::temp(s.message() + "; morercpthosts.cdb left unchanged");
  return s;
}
}  // namespace

int main(int argc, char** argv) { return qmail::run_program("qmail-newmrh", argc, argv, newmrh); }
