// maildir2mbox: move mail from a maildir to an mbox (maildir2mbox(1)).
#include "local/maildir2mbox.h"

#include <cstdlib>
#include <span>
#include <string>

#include "base/run_program.h"

namespace {

qmail::Status body(std::span<char*>) {
  const char* names[] = {"MAILDIR", "MAIL", "MAILTMP"};
  std::string v[3];
  for (int i = 0; i < 3; ++i) {
    const char* e = std::getenv(names[i]);
    if (e == nullptr || *e == '\0') return qmail::Status::temp(std::string(names[i]) + " not set");
    v[i] = e;
  }
  auto moved = qmail::maildir::to_mbox(v[0], v[1], v[2]);
  if (!moved.is_ok()) return moved.status();
  return qmail::Status::ok();
}

}  // namespace

int main(int argc, char** argv) { return qmail::run_program("maildir2mbox", argc, argv, body); }
