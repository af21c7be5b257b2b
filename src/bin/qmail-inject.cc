// qmail-inject(8): preprocess and send a mail message.
#include "base/run_program.h"
#include "inject/inject.h"

int main(int argc, char** argv) {
  return qmail::run_program("qmail-inject", argc, argv, qmail::inject::run);
}
