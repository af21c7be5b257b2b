// qmail-remote: send mail via SMTP. See man/qmail-remote.8.
#include <unistd.h>

#include "base/run_program.h"
#include "remote/remote.h"

namespace {
int body(std::span<char*> args) { return qmail::remote::run(args, 0, 1); }
}  // namespace

int main(int argc, char** argv) { return qmail::run_program("qmail-remote", argc, argv, body); }
