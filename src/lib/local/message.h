// The message qmail-local delivers, and the lines it adds to it
// (qmail-local(8), qmail-command(8), mbox(5)). The message is a seekable
// descriptor read with pread from offset 0, so no delivery depends on where
// a previous reader (for example a program) left the file offset.
#pragma once

#include <ctime>
#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "io/fd.h"

namespace qmail::local {

// "Delivered-To: <recipient>\n" (DTLINE). Newlines inside are replaced by
// '_' so the line stays one header field.
std::string dtline(std::string_view recipient);
// "Return-Path: <sender>\n" (RPLINE), the local part of sender quoted when
// it is no dot-atom (addr::quote), newlines replaced the same way.
std::string rpline(std::string_view sender);
// mbox(5) From_ line (UFLINE): "From " sender " " asctime-date "\n"; an
// empty sender becomes MAILER-DAEMON; spaces, tabs and newlines in the
// sender become '-'; the date is GMT, 24 characters.
std::string ufline(std::string_view sender, std::time_t when);
// asctime(3) format in GMT without the newline: "Sat Jan  3 01:05:34 1996".
std::string asctime_gmt(std::time_t when);

// A temporary error reading "<what>: <strerror(err)>. (#<code>)", the form
// qmail-local's reports take (the enhanced status code last).
Status temp_sys(std::string_view what, int err, std::string_view code);

// Calls `sink` with successive chunks of the file at `fd`, from offset 0
// to EOF (pread; the file offset is untouched). Stops early, returning its
// status, if `sink` fails. Errors: temp "Unable to read message".
Status for_each_chunk(int fd, const std::function<Status(std::string_view)>& sink);

// Does the header of the message at `fd` (up to the first empty line)
// contain a line equal to `field` (e.g. "Delivered-To: joe@example.com",
// no newline), byte for byte (qmail-local(8): "exactly the same")?
// Streams the message; memory is
// bounded by the length of `field`.
Result<bool> header_has_line(int fd, std::string_view field);

// Makes the message on `fd` seekable: returns a duplicate of `fd` if it is
// seekable, otherwise copies it to an unlinked temporary file (in $TMPDIR
// or /tmp) and returns that. Errors: temp.
Result<Fd> seekable_message(int fd);

// mbox(5) ">From quoting" for a stream: put() copies bytes, prefixing '>'
// to every line that matches ">*From ", across chunk boundaries.
class FromQuoter {
 public:
  // Appends the quoted form of `chunk` to `out`.
  void put(std::string_view chunk, std::string& out);
  // Appends whatever is held back (a partial line start) to `out`.
  void finish(std::string& out);
  // Did the stream end in the middle of a line (no final '\n')? Valid after
  // finish(). An empty stream counts as ending at a line boundary.
  bool partial_last_line() const { return !at_line_start_; }

 private:
  bool at_line_start_ = true;
  bool in_prefix_ = false;  // inside a possible ">*From " at line start
  std::string held_;        // its bytes so far
};

}  // namespace qmail::local
