#include "base/run_program.h"
#include "spawn/local.h"

int main(int argc, char** argv) {
  return qmail::run_program("qmail-lspawn", argc, argv, qmail::spawn::lspawn_main);
}
