// qmail-tcpok: clear qmail-remote's TCP timeout table. See man/qmail-tcpok.8.
#include "base/run_program.h"
#include "home/home.h"
#include "remote/tcpto.h"

namespace {
qmail::Status body(std::span<char*>) {
  return qmail::remote::tcpto_file_clear(qmail::home::path("queue/lock/tcpto"));
}
}  // namespace

int main(int argc, char** argv) { return qmail::run_program("qmail-tcpok", argc, argv, body); }
