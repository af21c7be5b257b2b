// qmail-clean's work (qmail-clean(8)): removing a message's queue files
// on qmail-send's request, and the debris of qmail-queue runs that died.
//
// Protocol (qmail-send writes to qmail-clean's fd 0, reads its fd 1):
//   request "x<id>\0"  remove intd/<id>, todo/<id>, mess/<s>/<id> (in that
//                      order; missing files are fine): the message is gone.
//                      Inodes nobody else uses go to the pool of
//                      queue/recycle.h instead of being freed.
//                      Not made durable: a crash may bring the names back,
//                      and qmail-send finishes the cleanup again (info/<id>
//                      without mess/<id> is a finished message; a mess file
//                      with neither todo/ nor info/ is debris it asks us to
//                      remove once it is kOssified old).
//   request "i<id>\0"  remove intd/<id> and todo/<id>, the todo removal
//                      durably: qmail-send has made info/local/remote
//                      durable (preprocessing is done).
//   reply   '+'        done
//   reply   '!'        failed (temporary; try again later), also the answer
//                      to a malformed request
// One reply byte per request, in order. Requests that arrive together are
// carried out together and share one fsync of todo/ (group commit), so
// qmail-send should write a batch of them before reading the replies. EOF
// on fd 0 ends qmail-clean (exit 0).
#pragma once

#include <cstdint>
#include <ctime>
#include <set>
#include <string>
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

// Carries out one request (without its NUL). Directories whose changes
// must still be made durable before the '+' are added to `to_sync` (the
// caller fsyncs them); without `to_sync` they are fsynced here. Returns ok
// for '+'. Errors: temp on file-system trouble; perm for a malformed
// request.
Status handle(const Layout& q, std::string_view request, std::set<std::string>* to_sync = nullptr);

struct SweepStats {
  int pid_files = 0;   // pid/* older than kOssified
  int intd_files = 0;  // intd/<id> with one link (no todo), older than kOssified
};

// Removes old debris as of `now`: pid/ files, and intd/<id> files with no
// todo link. Never a mess file: only qmail-send can tell an unfinished
// message from one it has taken (info/), and it sends "x" for those.
// Trouble with single files is logged and skipped. Errors: temp when a
// directory cannot be read.
Result<SweepStats> sweep(const Layout& q, std::time_t now);

// The request loop: reads requests from `in`, answers on `out`, sweeps on
// start and every kSweepInterval seconds. Returns ok at EOF on `in`.
// Errors: temp when `in` or `out` fails.
Status serve(const Layout& q, int in, int out);

}  // namespace qmail::queue::clean
