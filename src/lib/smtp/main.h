// qmail-smtpd's main body, shared by the qmail-smtpd program and
// qmail-tcpsrv's in-process run of it (spawn/builtin.h): the SMTP session
// on fds 0 and 1, controls read at start.
#pragma once

#include <span>

#include "base/status.h"

namespace qmail::smtp {

Status smtpd_main(std::span<char*> args);

}  // namespace qmail::smtp
