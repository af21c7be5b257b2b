// splogger(8): qmail-send's activity record (or any line-based log) into
// syslog. This part is pure: it cuts the input into syslog entries; the
// program (src/bin/splogger.cc) stamps and sends them.
//
// Rules (splogger(8)): one entry per line, blank lines dropped; bytes
// outside 32..126 become '?'; a line longer than kChunk bytes is folded
// into several entries, the later ones marked by '+' after the timestamp
// ("STAMP text", then "STAMP+more"), all with the same stamp and priority;
// the priority is LOG_ALERT for a line starting "alert:", LOG_WARNING for
// "warning:", LOG_INFO otherwise.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace qmail::splogger {

// syslog cannot take long lines: at most this many bytes of text per entry.
inline constexpr std::size_t kChunk = 799;

struct Entry {
  int priority = 0;
  std::string text;  // "STAMP text" or "STAMP+text"

  bool operator==(const Entry&) const = default;
};

class Folder {
 public:
  // `stamp` gives the timestamp of a new line ("seconds.microseconds").
  explicit Folder(std::function<std::string()> stamp) : stamp_(std::move(stamp)) {}

  // Feeds input bytes; complete entries are appended to `out`.
  void feed(std::string_view bytes, std::vector<Entry>& out);
  // End of input: a last line without newline is still logged.
  void finish(std::vector<Entry>& out);

 private:
  void flush(std::vector<Entry>& out);

  std::function<std::string()> stamp_;
  std::string buf_;
  bool cont_ = false;  // the current line already has an entry
  int priority_ = 0;
  std::string line_stamp_;
};

// "seconds.microseconds" with six digits after the dot, as splogger writes.
std::string format_stamp(long long sec, long usec);

}  // namespace qmail::splogger
