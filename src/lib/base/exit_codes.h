// qmail's vocabulary across process boundaries, defined once.
#pragma once

namespace qmail::exitcode {

// General convention of qmail programs (qmail-local, qmail-command(8)).
inline constexpr int kOk = 0;
inline constexpr int kPerm = 100;
inline constexpr int kTemp = 111;
// qmail-command(8): 99 means success, and skip the rest of .qmail.
inline constexpr int kSkipRest = 99;

}  // namespace qmail::exitcode

// qmail-queue(8) exit codes (a table with aligned comments).
// clang-format off
namespace qmail::queue_exit {
inline constexpr int kOk = 0;
inline constexpr int kAddressTooLong = 11;         // perm
inline constexpr int kMessageTooLong = 31;         // perm: mail server permanently refuses
inline constexpr int kOutOfMemory = 51;            // temp
inline constexpr int kTimeout = 52;                // temp
inline constexpr int kWriteError = 53;             // temp: write error, e.g. disk full
inline constexpr int kReadError = 54;              // temp: unable to read message or envelope
inline constexpr int kConfigError = 55;            // temp: unable to read a configuration file
inline constexpr int kNetworkError = 56;           // temp: trouble making a network connection
inline constexpr int kQueueDir = 61;               // temp: trouble in home directory
inline constexpr int kQueueFiles = 62;             // temp: trouble creating files in the queue
inline constexpr int kInternalBug = 81;            // temp
inline constexpr int kCustomError = 82;            // the reason is on descriptor 6 ("D..."/"Z...")
inline constexpr int kEnvelopeFormat = 91;         // temp: envelope format error
inline constexpr int kExecFailed = 120;            // temp: a caller could not exec qmail-queue
// clang-format on

// Is `code` (from qmail-queue) a permanent failure? qmail-queue(8): codes
// between 11 and 40 are permanent, everything else nonzero temporary.
inline constexpr bool is_perm(int code) { return code >= 11 && code <= 40; }
// One-line description of a qmail-queue exit code, as qmail's callers say it.
const char* describe(int code);
}  // namespace qmail::queue_exit
