#include "spawn/protocol.h"

#include <sys/wait.h>

#include <cstring>

#include "base/strings.h"

namespace qmail::spawn {

namespace {
void put_field(std::string& out, std::string_view s) {
  out += s;
  out += '\0';
}

std::optional<std::uint64_t> parse_num(std::string_view s, std::uint64_t max) {
  if (s.size() > 1 && s[0] == '0') return std::nullopt;
  return str::parse_uint(s, max);
}
}  // namespace

std::string encode(const Command& c) {
  std::string out;
  put_field(out, std::to_string(c.delivery));
  put_field(out, std::to_string(c.id));
  put_field(out, c.sender);
  put_field(out, c.recipient);
  return out;
}

std::string encode(const Reply& r) {
  std::string out;
  put_field(out, std::to_string(r.delivery));
  out += r.result;
  std::string text = r.text.substr(0, kMaxReport);
  for (char& ch : text)
    if (ch == '\0') ch = ' ';
  put_field(out, text);
  return out;
}

bool Decoder::take_fields(std::size_t n, std::string_view* out) {
  std::size_t p = pos_;
  for (std::size_t i = 0; i < n; ++i) {
    const void* z = std::memchr(buf_.data() + p, '\0', buf_.size() - p);
    if (!z) return false;
    std::size_t e = static_cast<std::size_t>(static_cast<const char*>(z) - buf_.data());
    out[i] = std::string_view(buf_).substr(p, e - p);
    p = e + 1;
  }
  pos_ = p;
  return true;
}

Status Decoder::check_overlong() const {
  // An incomplete record may not grow without bound.
  if (buf_.size() - pos_ > 4 * kMaxField + 64) return Status::perm("spawn record too long");
  return Status::ok();
}

Result<std::optional<Command>> Decoder::next_command() {
  std::string_view f[4];
  if (!take_fields(4, f)) {
    QMAIL_RETURN_IF_ERROR(check_overlong());
    return std::optional<Command>();
  }
  auto d = parse_num(f[0], kMaxDelivery);
  auto id = parse_num(f[1], UINT64_MAX);
  if (!d || !id || f[2].size() > kMaxField || f[3].size() > kMaxField)
    return Status::perm("malformed spawn command");
  Command c{*d, *id, std::string(f[2]), std::string(f[3])};
  if (pos_ > 65536) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  return std::optional<Command>(std::move(c));
}

Result<std::optional<Reply>> Decoder::next_reply() {
  std::string_view f[2];
  if (!take_fields(2, f)) {
    QMAIL_RETURN_IF_ERROR(check_overlong());
    return std::optional<Reply>();
  }
  auto d = parse_num(f[0], kMaxDelivery);
  if (!d || f[1].empty() || (f[1][0] != 'K' && f[1][0] != 'Z' && f[1][0] != 'D') ||
      f[1].size() > kMaxReport + 1)
    return Status::perm("malformed spawn reply");
  Reply r{*d, f[1][0], std::string(f[1].substr(1))};
  if (pos_ > 65536) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  return std::optional<Reply>(std::move(r));
}

Reply local_result(int wstat, std::string_view output) {
  Reply r;
  // qmail-limits(7): a report too long for qmail-lspawn is cut, and says
  // so (the spawner keeps one byte past kMaxReport to tell).
  static constexpr std::string_view kTooLong = "\nError report too long, sorry.\n";
  if (output.size() > kMaxReport)
    r.text = std::string(output.substr(0, kMaxReport - kTooLong.size())) + std::string(kTooLong);
  else
    r.text = std::string(output);
  if (!WIFEXITED(wstat)) {
    r.result = 'Z';
    if (r.text.empty()) r.text = "qmail-local crashed.\n";
    return r;
  }
  switch (WEXITSTATUS(wstat)) {
    case 0:
      r.result = 'K';
      break;
    case 64:
    case 65:
    case 70:
    case 76:
    case 77:
    case 78:
    case 100:
    case 112:
      r.result = 'D';
      if (r.text.empty()) r.text = "Permanent failure with no report. (#5.3.0)\n";
      break;
    default:
      r.result = 'Z';
      if (r.text.empty()) r.text = "Temporary failure with no report. (#4.3.0)\n";
  }
  return r;
}

Reply remote_result(int wstat, std::string_view output) {
  Reply r;
  r.result = 'Z';
  std::string_view recip, message;
  std::string_view rest = output;
  while (!rest.empty()) {
    std::size_t z = rest.find('\0');
    if (z == std::string_view::npos) break;  // an unterminated report is ignored
    std::string_view rep = rest.substr(0, z);
    rest.remove_prefix(z + 1);
    if (rep.empty()) continue;
    char c = rep[0];
    if ((c == 'r' || c == 'h' || c == 's') && recip.empty() && message.empty())
      recip = rep;
    else if ((c == 'K' || c == 'Z' || c == 'D') && message.empty())
      message = rep;
  }
  if (message.empty() && recip.empty()) {
    r.text = WIFEXITED(wstat) ? "qmail-remote produced no report. (#4.3.0)\n"
                              : "qmail-remote crashed. (#4.3.0)\n";
    return r;
  }
  if (!recip.empty() && recip[0] == 'h')
    r.result = 'D';
  else if (!recip.empty() && recip[0] == 's')
    r.result = 'Z';
  else if (!message.empty())
    r.result = message[0];
  else
    r.result = 'Z';  // accepted but no message report: the data phase died
  if (!recip.empty()) r.text.append(recip.substr(1));
  if (!message.empty()) r.text.append(message.substr(1));
  if (r.text.size() > kMaxReport) r.text.resize(kMaxReport);
  return r;
}

std::string log_text(std::string_view report) {
  std::string out;
  out.reserve(report.size());
  for (char ch : report) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c == '\n')
      out += '/';
    else if (c == '%' || c <= ' ' || c > 126)
      out += '_';
    else
      out += ch;
  }
  return out;
}

}  // namespace qmail::spawn
