// qmail-qstat: summarize status of mail queue (qmail-qstat(8)).
#include "base/run_program.h"
#include "io/io.h"
#include "queue/layout.h"
#include "queue/qread.h"

namespace {

qmail::Status qmail_qstat(std::span<char*>) {
  using namespace qmail;
  QMAIL_ASSIGN_OR_RETURN(auto counts, queue::count_queue(queue::Layout::from_home()));
  return io::write_all(1, queue::format_qstat(counts));
}

}  // namespace

int main(int argc, char** argv) {
  return qmail::run_program("qmail-qstat", argc, argv, qmail_qstat);
}
