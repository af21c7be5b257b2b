// Pieces shared by the .qmail helper programs (forward, condredirect,
// bouncesaying, except, qreceipt): the qmail-command(8) environment they
// rely on and the message on their fd 0.
#pragma once

#include <string>

#include "base/status.h"
#include "io/fd.h"

namespace qmail::local {

// $name, or a perm error "<name> not set" (the helper was not run by
// qmail-local).
Result<std::string> required_env(const char* name);

// Makes fd 0 a seekable copy of the message (copying a pipe to a temporary
// file and putting that on fd 0) and returns another descriptor for the
// same file. Errors: temp.
Result<Fd> message_on_stdin();

}  // namespace qmail::local
