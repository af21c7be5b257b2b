// qmail-smtpd's main body, shared by the qmail-smtpd program and
// qmail-tcpsrv's in-process run of it (spawn/builtin.h): the SMTP session
// on fds 0 and 1, controls read at start.
#pragma once

#include <span>

#include "base/status.h"

namespace qmail::smtp {

Status smtpd_main(std::span<char*> args);

// Called once a session has decided to end (QUIT, too many errors, the
// client gone), before its last reply goes out: a reused worker tells its
// listener it is free now, so a client that reconnects as soon as it reads
// the 221 finds it free (net/tcpsrv.cc). Null (the default): nothing.
void set_on_session_end(void (*fn)());

}  // namespace qmail::smtp
