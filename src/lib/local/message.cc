#include "local/message.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "addr/addr.h"
#include "base/kept.h"
#include "base/scope_guard.h"
#include "base/strings.h"
#include "io/io.h"

namespace qmail::local {

namespace {

std::string one_line(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c == '\n') c = '_';
  }
  return out;
}

constexpr std::size_t kChunk = 65536;

// A kChunk buffer, the same one for every delivery of a worker
// (base/kept.h); not zeroed: every byte used is read into it.
Kept<std::unique_ptr<char[]>> g_chunk;
std::unique_ptr<char[]> take_chunk() {
  auto buf = g_chunk.take();
  if (!buf) buf = std::make_unique_for_overwrite<char[]>(kChunk);
  return buf;
}

}  // namespace

Status temp_sys(std::string_view what, int err, std::string_view code) {
  return Status::temp(std::string(what) + ": " + std::strerror(err) + ". (#" + std::string(code) +
                      ")");
}

std::string dtline(std::string_view recipient) {
  return "Delivered-To: " + one_line(recipient) + "\n";
}

std::string rpline(std::string_view sender) {
  // As qmail-local writes it: the local part quoted when it is no
  // dot-atom (`"a b"@host`), the null sender left empty.
  return "Return-Path: <" + one_line(addr::quote(sender)) + ">\n";
}

std::string asctime_gmt(std::time_t when) {
  struct tm tm;
  if (::gmtime_r(&when, &tm) == nullptr) {
    when = 0;
    ::gmtime_r(&when, &tm);
  }
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::array<char, 64> buf{};
  int year = tm.tm_year + 1900;
  if (year < 0 || year > 9999) year = 1970;
  std::snprintf(buf.data(), buf.size(), "%s %s %2d %02d:%02d:%02d %04d", kDays[tm.tm_wday % 7],
                kMonths[tm.tm_mon % 12], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, year);
  return std::string(buf.data());
}

std::string ufline(std::string_view sender, std::time_t when) {
  std::string s = sender.empty() ? std::string("MAILER-DAEMON") : std::string(sender);
  for (char& c : s) {
    if (c == ' ' || c == '\t' || c == '\n') c = '-';
  }
  return "From " + s + " " + asctime_gmt(when) + "\n";
}

Status for_each_chunk(int fd, const std::function<Status(std::string_view)>& sink) {
  auto buf = take_chunk();
  ScopeGuard give_back([&] { g_chunk.give(std::move(buf)); });
  off_t off = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buf.get(), kChunk, off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return temp_sys("Unable to read message", errno, "4.3.0");
    }
    if (n == 0) return Status::ok();
    off += n;
    QMAIL_RETURN_IF_ERROR(sink(std::string_view(buf.get(), static_cast<std::size_t>(n))));
  }
}

Result<bool> header_has_line(int fd, std::string_view field) {
  // A sentinel status stops the scan at the end of the header.
  bool found = false, done = false;
  std::string line;     // the current line, up to field.size() + 1 bytes
  std::size_t len = 0;  // its true length
  Status s = for_each_chunk(fd, [&](std::string_view chunk) -> Status {
    for (char c : chunk) {
      if (c == '\n') {
        if (len == 0) {
          done = true;
          return Status::perm("end of header");
        }
        if (len == field.size() && line == field) {
          found = true;
          done = true;
          return Status::perm("found");
        }
        line.clear();
        len = 0;
        continue;
      }
      if (len <= field.size()) line.push_back(c);
      ++len;
    }
    return Status::ok();
  });
  if (!s.is_ok() && !done) return s;
  // A header that ends without a newline still ends with a line.
  if (!done && len == field.size() && line == field) found = true;
  return found;
}

Result<Fd> seekable_message(int fd) {
  if (::lseek(fd, 0, SEEK_SET) == 0) {
    int d = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (d < 0) return temp_sys("Unable to read message", errno, "4.3.0");
    return Fd(d);
  }
  if (errno != ESPIPE) return temp_sys("Unable to read message", errno, "4.3.0");
  const char* tmpdir = std::getenv("TMPDIR");
  std::string dir = (tmpdir != nullptr && tmpdir[0] == '/') ? tmpdir : "/tmp";
  Fd tmp(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600));
  if (!tmp.valid()) {
    std::string path = dir + "/qmail-local.XXXXXX";
    tmp.reset(::mkostemp(path.data(), O_CLOEXEC));
    if (!tmp.valid()) return temp_sys("Unable to copy message to a temporary file", errno, "4.3.0");
    ::unlink(path.c_str());
  }
  auto buf = take_chunk();
  ScopeGuard give_back([&] { g_chunk.give(std::move(buf)); });
  for (;;) {
    ssize_t n = ::read(fd, buf.get(), kChunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      return temp_sys("Unable to read message", errno, "4.3.0");
    }
    if (n == 0) break;
    QMAIL_RETURN_IF_ERROR(
        io::write_all(tmp.get(), std::string_view(buf.get(), static_cast<std::size_t>(n))));
  }
  return tmp;
}

void FromQuoter::put(std::string_view chunk, std::string& out) {
  static constexpr std::string_view kFrom = "From ";
  for (char c : chunk) {
    if (at_line_start_) {
      at_line_start_ = false;
      in_prefix_ = true;
      held_.clear();
    }
    if (in_prefix_) {
      held_.push_back(c);
      // held_ is ">"* followed by a prefix of "From ".
      std::size_t gt = held_.find_first_not_of('>');
      if (gt == std::string::npos) continue;  // only '>' so far
      std::string_view rest = std::string_view(held_).substr(gt);
      if (kFrom.starts_with(rest)) {
        if (rest.size() == kFrom.size()) {
          out.push_back('>');
          out += held_;
          in_prefix_ = false;
        }
        continue;
      }
      out += held_;
      in_prefix_ = false;
      if (c == '\n') at_line_start_ = true;
      continue;
    }
    out.push_back(c);
    if (c == '\n') at_line_start_ = true;
  }
}

void FromQuoter::finish(std::string& out) {
  if (in_prefix_) {
    out += held_;
    in_prefix_ = false;
  }
}

}  // namespace qmail::local
