#include "base/run_program.h"
#include "send/send.h"

int main(int argc, char** argv) {
  return qmail::run_program("qmail-send", argc, argv, qmail::send::send_main);
}
