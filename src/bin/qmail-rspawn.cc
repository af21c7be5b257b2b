#include "base/run_program.h"
#include "spawn/remote.h"

int main(int argc, char** argv) {
  return qmail::run_program("qmail-rspawn", argc, argv, qmail::spawn::rspawn_main);
}
