#include "send/envelope.h"

#include "base/strings.h"

namespace qmail::send {

Result<Todo> parse_todo(std::string_view text) {
  Todo t;
  bool have_sender = false;
  while (!text.empty()) {
    std::size_t z = text.find('\0');
    if (z == std::string_view::npos) return Status::perm("unterminated record");
    std::string_view rec = text.substr(0, z);
    text.remove_prefix(z + 1);
    if (rec.empty()) continue;
    std::string_view val = rec.substr(1);
    switch (rec[0]) {
      case 'u': {
        auto n = str::parse_uint(val);
        if (!n) return Status::perm("bad uid record");
        t.uid = *n;
        break;
      }
      case 'p': {
        auto n = str::parse_uint(val);
        if (!n) return Status::perm("bad pid record");
        t.qp = *n;
        break;
      }
      case 'F':
        if (have_sender) return Status::perm("two senders");
        have_sender = true;
        t.sender = std::string(val);
        break;
      case 'T':
        t.recipients.emplace_back(val);
        break;
      default:
        return Status::perm("unknown record type");
    }
  }
  if (!have_sender) return Status::perm("no sender");
  return t;
}

Result<std::vector<RcptRecord>> parse_rcpts(std::string_view text) {
  std::vector<RcptRecord> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t z = text.find('\0', pos);
    if (z == std::string_view::npos) break;
    std::string_view rec = text.substr(pos, z - pos);
    if (!rec.empty()) {
      if (rec[0] != 'T' && rec[0] != 'D') return Status::perm("unknown record type");
      out.push_back({std::string(rec.substr(1)), pos, rec[0] == 'D'});
    }
    pos = z + 1;
  }
  return out;
}

std::string format_rcpts(const std::vector<std::string>& addrs) {
  std::string out;
  for (const auto& a : addrs) {
    out += 'T';
    out += a;
    out += '\0';
  }
  return out;
}

Result<std::string> parse_info(std::string_view text) {
  std::size_t z = text.find('\0');
  if (text.empty() || text[0] != 'F' || z == std::string_view::npos)
    return Status::perm("info file does not start with a sender");
  return std::string(text.substr(1, z - 1));
}

std::string format_info(std::string_view sender) {
  std::string out = "F";
  out += sender;
  out += '\0';
  return out;
}

}  // namespace qmail::send
