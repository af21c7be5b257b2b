// qmail-clean: clean up the queue directory (qmail-clean(8)).
#include "base/run_program.h"
#include "queue/clean.h"
#include "queue/layout.h"

namespace {

qmail::Status qmail_clean(std::span<char*>) {
  return qmail::queue::clean::serve(qmail::queue::Layout::from_home(), 0, 1);
}

}  // namespace

int main(int argc, char** argv) {
  return qmail::run_program("qmail-clean", argc, argv, qmail_clean);
}
