// qmail-start(8): starts qmail-send, qmail-lspawn, qmail-rspawn and
// qmail-clean (and an optional logger) under their uids, wired with pipes
// as qmail-send(8) expects, and finally becomes qmail-send itself (so
// under supervise the supervised process is qmail-send).
#pragma once

#include <span>

#include "base/status.h"

namespace qmail::send {

Status start_main(std::span<char*> args);

}  // namespace qmail::send
