// qmail-clean's work (qmail-clean(8)): removing a message's queue files
// on qmail-send's request, and the debris of qmail-queue runs that died.
//
// Protocol (qmail-send writes to qmail-clean's fd 0, reads its fd 1):
//   request "x<id>\0"  remove todo/<id>, mess/<s>/<id>, intd/<id> (in that
//                      order; missing files are fine): the message is gone.
//   request "i<id>\0"  remove intd/<id>, then todo/<id>: qmail-send has made
//                      info/local/remote durable (preprocessing is done).
//   reply   '+'        done, and durable (the directories are fsynced)
//   reply   '!'        failed (temporary; try again later), also the answer
//                      to a malformed request
// One reply byte per request, in order. EOF on fd 0 ends qmail-clean (exit
// 0).
#pragma once

#include <cstdint>
#include <ctime>
#include <string_view>

#include "base/status.h"
#include "queue/layout.h"

namespace qmail::queue::clean {

// qmail's OSSIFIED: debris older than 36 hours cannot belong to a live
// qmail-queue (which gives up after 24, see enqueue.h kQueueTimeout).
inline constexpr std::time_t kOssified = 36 * 3600;
// Debris is swept on start and then about this often.
inline constexpr int kSweepInterval = 3600;
// A request is a letter and a decimal id: anything longer is garbage.
inline constexpr std::size_t kMaxRequest = 64;

// Carries out one request (without its NUL). Returns ok for '+'. Errors:
// temp on file-system trouble; perm for a malformed request.
Status handle(const Layout& q, std::string_view request);

struct SweepStats {
  int pid_files = 0;   // pid/* older than kOssified
  int intd_files = 0;  // intd/<id> with one link (no todo), older than kOssified
  int mess_files = 0;  // the mess files of those intd files
};

// Removes old debris as of `now`: pid/ files, and intd/<id> files with no
// todo link, each with its mess file (the mess file is removed, and that
// made durable, before its intd marker). Trouble with single files is
// logged and skipped. Errors: temp when a directory cannot be read.
Result<SweepStats> sweep(const Layout& q, std::time_t now);

// The request loop: reads requests from `in`, answers on `out`, sweeps on
// start and every kSweepInterval seconds. Returns ok at EOF on `in`.
// Errors: temp when `in` or `out` fails.
Status serve(const Layout& q, int in, int out);

}  // namespace qmail::queue::clean
