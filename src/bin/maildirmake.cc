// maildirmake: create a maildir for incoming mail (maildirmake(1)).
#include <sys/stat.h>

#include <span>

#include "base/run_program.h"
#include "local/maildir.h"

namespace {

qmail::Status body(std::span<char*> args) {
  if (args.size() != 2) return qmail::Status::perm("usage: maildirmake dir");
  ::umask(077);
  return qmail::maildir::make(args[1]);
}

}  // namespace

int main(int argc, char** argv) { return qmail::run_program("maildirmake", argc, argv, body); }
