#include "base/exit_codes.h"

namespace qmail::queue_exit {

const char* describe(int code) {
  // One line per code: a table, kept aligned by hand.
  // clang-format off
  switch (code) {
    case kOk: return "ok";
    case kAddressTooLong: return "envelope address too long for qq (#5.1.3)";
    case kMessageTooLong: return "mail server permanently rejected message (#5.3.0)";
    case kOutOfMemory: return "qq out of memory (#4.3.0)";
    case kTimeout: return "qq timeout (#4.3.0)";
    case kWriteError: return "qq write error or disk full (#4.3.0)";
    case kReadError: return "qq read error (#4.3.0)";
    case kConfigError: return "qq unable to read configuration (#4.3.0)";
    case kNetworkError: return "qq trouble making network connection (#4.3.0)";
    case kQueueDir: return "qq trouble in home directory (#4.3.0)";
    case kQueueFiles: return "qq trouble creating files in queue (#4.3.0)";
    case kInternalBug: return "qq internal bug (#4.3.0)";
    case kEnvelopeFormat: return "qq envelope format error (#4.3.0)";
    // qmail's qmail_close: the child could not exec qmail-queue.
    case kExecFailed: return "unable to exec qq (#4.3.0)";
    default:
      return is_perm(code) ? "qq permanent problem (#5.3.0)" : "qq temporary problem (#4.3.0)";
  }
  // clang-format on
}

}  // namespace qmail::queue_exit
