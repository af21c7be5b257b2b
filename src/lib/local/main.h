// qmail-local's main body (qmail-local(8) arguments), shared by the
// qmail-local program and qmail-lspawn's in-process delivery
// (spawn/builtin.h). Message on fd 0, report on fd 1; returns the exit
// code.
#pragma once

#include <span>

namespace qmail::local {

int local_main(std::span<char*> args);

}  // namespace qmail::local
