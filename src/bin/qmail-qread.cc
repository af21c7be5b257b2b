// qmail-qread: list outgoing messages and recipients (qmail-qread(8)).
#include <string>

#include "base/run_program.h"
#include "io/io.h"
#include "queue/layout.h"
#include "queue/qread.h"

namespace {

qmail::Status qmail_qread(std::span<char*>) {
  using namespace qmail;
  QMAIL_ASSIGN_OR_RETURN(auto scan, queue::scan_queue(queue::Layout::from_home()));
  io::Writer out(1);
  // qmail-qread(8) prints its warnings among its output, on fd 1.
  for (const auto& w : scan.warnings) QMAIL_RETURN_IF_ERROR(out.put("warning: " + w + "\n"));
  for (const auto& m : scan.messages) QMAIL_RETURN_IF_ERROR(out.put(queue::format_qread(m)));
  return out.flush();
}

}  // namespace

int main(int argc, char** argv) {
  return qmail::run_program("qmail-qread", argc, argv, qmail_qread);
}
