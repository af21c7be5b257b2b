#include "local/notify.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/strings.h"
#include "io/fd.h"
#include "local/message.h"

namespace qmail::local {

namespace {

std::string harmless(std::string_view s, std::size_t width) {
  std::string out;
  for (char c : s) {
    if (out.size() >= width) break;
    unsigned char u = static_cast<unsigned char>(c);
    out.push_back(u < 32 || u >= 127 ? '?' : c);
  }
  return out;
}

const HeaderField* find(const std::vector<HeaderField>& h, std::string_view name) {
  for (const HeaderField& f : h) {
    if (str::iequals(f.name, name)) return &f;
  }
  return nullptr;
}

// RFC 5322 date in GMT: "Sat, 03 Jan 1996 01:05:34 +0000".
std::string rfc5322_date(std::time_t now) {
  struct tm tm;
  gmtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

}  // namespace

std::string biff_notice(std::string_view sender, const std::vector<HeaderField>& header) {
  std::string out = "\a\r\nNew mail from " +
                    harmless(sender.empty() ? "MAILER-DAEMON" : sender, kBiffColumns) + "\r\n";
  for (std::string_view name : {"From", "Subject"}) {
    if (const HeaderField* f = find(header, name)) {
      out += harmless(std::string(name) + ": " + f->value, kBiffColumns) + "\r\n";
    }
  }
  return out;
}

bool notify_tty(const std::string& path, uid_t uid, std::string_view notice) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return false;
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return false;
  // biff(1) "y" sets the owner-execute bit of the user's own terminal.
  if (!S_ISCHR(st.st_mode) || st.st_uid != uid || (st.st_mode & S_IXUSR) == 0) return false;
  ssize_t n = ::write(fd.get(), notice.data(), notice.size());
  return n > 0;
}

bool receipt_requested(const std::vector<HeaderField>& header, std::string_view address) {
  for (const HeaderField& f : header) {
    if (!str::iequals(f.name, "Notice-Requested-Upon-Delivery-To")) continue;
    for (const std::string& a : parse_addresses(f.value)) {
      if (str::iequals(a, address)) return true;
    }
  }
  return false;
}

bool receipt_allowed(std::string_view sender, const std::vector<HeaderField>& header) {
  if (sender.empty() || sender == "#@[]" || sender.find('@') == std::string_view::npos) {
    return false;
  }
  for (const HeaderField& f : header) {
    if (!str::iequals(f.name, "Precedence")) continue;
    std::string v = str::lower(str::trim(f.value));
    if (v.starts_with("bulk") || v.starts_with("junk") || v.starts_with("list")) return false;
  }
  return true;
}

std::string receipt_message(std::string_view address, std::string_view sender,
                            const std::vector<HeaderField>& header, std::time_t now) {
  // The addresses come from the envelope and the user's .qmail; keep them
  // on one line each.
  auto one = [](std::string_view s) { return harmless(s, 998); };
  std::string out;
  out += "Date: " + rfc5322_date(now) + "\n";
  out += "From: DELIVERY NOTICE SERVICE <" + one(address) + ">\n";
  out += "To: <" + one(sender) + ">\n";
  out += "Subject: success notice\n";
  if (const HeaderField* id = find(header, "Message-ID")) {
    out += "In-Reply-To: " + one(id->value) + "\n";
  }
  out += "\n";
  out += "Hi! This is the qreceipt program. Your message was delivered\n";
  out += "to the following address: " + one(address) + ". Thanks for asking.\n";
  if (const HeaderField* subj = find(header, "Subject")) {
    out += "\nIts subject was: " + one(subj->value) + "\n";
  }
  return out;
}

}  // namespace qmail::local
