// Every bound qmail-smtpd puts on what a client can send or make it do,
// each with its source. One place, so the man page and docs/smtpd.md can
// cite it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qmail::smtp {

// RFC 5321 4.5.3.1.4 allows 512 octets per command line, and extensions
// (RFC 1870 SIZE, RFC 6152 BODY, RFC 6531 SMTPUTF8 addresses) may raise it.
// We accept 8 times the minimum; a longer line is answered with 500 5.5.2
// and counts as an error.
inline constexpr std::size_t kMaxCommandLine = 4096;

// RFC 5321 4.5.3.1.3: a reverse-path or forward-path is at most 256
// octets, including the angle brackets.
inline constexpr std::size_t kMaxPath = 256;
// RFC 5321 4.5.3.1.2: a domain is at most 255 octets.
inline constexpr std::size_t kMaxDomain = 255;
// RFC 5321 4.5.3.1.1 says 64 for a local part, but VERP and SRS senders
// exceed it routinely and 4.5.3.1 asks servers to accept longer ones; the
// path bound above is the effective limit.

// RFC 5321 4.5.3.1.6 limits text lines to 1000 octets. qmail-smtpd(8)
// accepts longer lines, and so do we: DATA is a byte stream here, so long
// lines cost no memory. The only bound on a message is databytes.

// qmail-smtpd(8) databytes: "0 for no limit. Default: 0." qmail's
// unlimited default is a known weakness: without control/databytes we
// take 10 MB (kDefaultDatabytes, advertised as SIZE). An explicit 0, "no
// limit", and anything larger mean the hard cap kMaxDatabytes.
inline constexpr std::uint64_t kDefaultDatabytes = 10 * 1024 * 1024;
inline constexpr std::uint64_t kMaxDatabytes = std::uint64_t{2} * 1024 * 1024 * 1024;

// RFC 5321 4.5.3.1.8: a server must accept at least 100 recipients.
// control/maxrcpt overrides; past it RCPT gets 452 4.5.3.
inline constexpr std::uint64_t kDefaultMaxRcpt = 100;

// qmail-smtpd(8): a message with 100 or more Received or Delivered-To
// header fields is looping (554 5.4.6).
inline constexpr unsigned kMaxHops = 100;

// Unknown commands, syntax errors, over-long lines, refused recipients:
// after this many the session ends with 421 4.7.0 (a limit qmail lacks).
// High enough that no client following RFC 5321 meets it (a sender with
// many refused recipients goes on getting 553s), low enough to end a
// dictionary attack on recipients.cdb.
inline constexpr unsigned kMaxErrors = 100;

// qmail-smtpd(8) timeoutsmtpd: seconds to wait for each new buffer of
// data from the client (and for the client to take our replies).
inline constexpr std::uint64_t kDefaultTimeout = 1200;
// A whole session (all commands and messages) may last at most this long,
// so a client dripping one byte per timeout cannot hold a slot forever.
inline constexpr std::uint64_t kMaxSessionSeconds = 4 * 3600;

// Input buffer per session: holds pipelined commands (RFC 2920) and DATA
// chunks. Memory per session is fixed: DATA streams to qmail-queue.
inline constexpr std::size_t kInputBuffer = 16 * 1024;

// The HELO/EHLO argument as recorded in the Received line.
inline constexpr std::size_t kMaxHelo = 255;

}  // namespace qmail::smtp
