// qmail-tcpsrv: the TCP listener (tcpserver(1)'s job). See qmail-tcpsrv(8).
#include <span>

#include "base/run_program.h"
#include "base/status.h"
#include "net/tcpsrv.h"

namespace {

qmail::Status body(std::span<char*> args) {
  QMAIL_ASSIGN_OR_RETURN(qmail::tcpsrv::Options opt,
                         qmail::tcpsrv::parse_args(args.subspan(args.empty() ? 0 : 1)));
  return qmail::tcpsrv::serve(opt);
}

}  // namespace

int main(int argc, char** argv) { return qmail::run_program("qmail-tcpsrv", argc, argv, body); }
