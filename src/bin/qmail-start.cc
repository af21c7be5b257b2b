#include "base/run_program.h"
#include "send/start.h"

int main(int argc, char** argv) {
  return qmail::run_program("qmail-start", argc, argv, qmail::send::start_main);
}
