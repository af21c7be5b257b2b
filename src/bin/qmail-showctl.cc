// qmail-showctl(8): describes the home's configuration.
#include "base/run_program.h"
#include "home/home.h"
#include "io/io.h"
#include "setup/showctl.h"

namespace {
qmail::Status showctl(std::span<char*>) {
  QMAIL_ASSIGN_OR_RETURN(std::string out, qmail::setup::showctl(qmail::home::dir()));
  return qmail::io::write_all(1, out);
}
}  // namespace

int main(int argc, char** argv) { return qmail::run_program("qmail-showctl", argc, argv, showctl); }
