// qmail-tcpto: print qmail-remote's TCP timeout table. See man/qmail-tcpto.8.
#include "base/run_program.h"
#include "home/home.h"
#include "io/io.h"
#include "remote/tcpto.h"

namespace {
qmail::Status body(std::span<char*>) {
  QMAIL_ASSIGN_OR_RETURN(std::string text,
                         qmail::remote::tcpto_file_report(qmail::home::path("queue/lock/tcpto")));
  return qmail::io::write_all(1, text);
}
}  // namespace

int main(int argc, char** argv) { return qmail::run_program("qmail-tcpto", argc, argv, body); }
