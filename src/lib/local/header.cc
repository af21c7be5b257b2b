#include "local/header.h"

#include <unistd.h>

#include <cerrno>

#include "base/strings.h"
#include "local/message.h"

namespace qmail::local {

std::vector<HeaderField> parse_header(std::string_view text) {
  std::vector<HeaderField> out;
  bool last_valid = false;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::string_view line =
        nl == std::string_view::npos ? text.substr(pos) : text.substr(pos, nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // end of header
    if (line[0] == ' ' || line[0] == '\t') {
      if (last_valid) {
        std::string_view more = str::trim(line);
        if (!more.empty()) {
          if (!out.back().value.empty()) out.back().value.push_back(' ');
          out.back().value.append(more);
        }
      }
      continue;
    }
    last_valid = false;
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;
    std::string_view name = line.substr(0, colon);
    bool ok = true;
    for (char c : name) {
      if (c <= 32 || c >= 127) ok = false;
    }
    if (!ok) continue;
    if (out.size() >= kMaxHeaderFields) break;
    out.push_back({std::string(name), std::string(str::trim(line.substr(colon + 1)))});
    last_valid = true;
  }
  return out;
}

Result<std::vector<HeaderField>> read_header(int fd) {
  std::string buf(kMaxHeaderBytes, '\0');
  std::size_t got = 0;
  while (got < buf.size()) {
    ssize_t n = ::pread(fd, buf.data() + got, buf.size() - got, static_cast<off_t>(got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return temp_sys("Unable to read message", errno, "4.3.0");
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  buf.resize(got);
  return parse_header(buf);
}

std::vector<std::string> parse_addresses(std::string_view value) {
  std::vector<std::string> out;
  std::string plain;  // the part outside comments, quotes kept
  std::string angle;  // text inside <...>
  bool has_angle = false, in_angle = false, in_quote = false;
  int comment = 0;
  auto flush = [&] {
    std::string a = has_angle ? angle : plain;
    // An old source route "<@a,@b:joe@x>" names joe@x.
    if (has_angle && !a.empty() && a[0] == '@' && a.find(':') != std::string::npos) {
      a.erase(0, a.find(':') + 1);
    }
    // Drop a group name ("undisclosed-recipients:" or "list: a@b").
    if (!has_angle) {
      std::size_t colon = a.find(':');
      if (colon != std::string::npos && a.find('@') > colon) a.erase(0, colon + 1);
      if (!a.empty() && a.back() == ';') a.pop_back();
    }
    std::string trimmed;
    for (char c : a) {
      if (c != ' ' && c != '\t' && c != '"') trimmed.push_back(c);
    }
    if (!trimmed.empty()) out.push_back(trimmed);
    plain.clear();
    angle.clear();
    has_angle = false;
  };
  for (std::size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (in_quote) {
      if (c == '\\' && i + 1 < value.size()) {
        (in_angle ? angle : plain).push_back(value[++i]);
      } else if (c == '"') {
        in_quote = false;
      } else {
        (in_angle ? angle : plain).push_back(c);
      }
      continue;
    }
    if (comment > 0) {
      if (c == '\\') {
        ++i;
      } else if (c == '(') {
        ++comment;
      } else if (c == ')') {
        --comment;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_quote = true;
        break;
      case '(':
        comment = 1;
        break;
      case '<':
        in_angle = true;
        has_angle = true;
        angle.clear();
        break;
      case '>':
        in_angle = false;
        break;
      case ',':
        if (in_angle) {
          angle.push_back(c);
        } else {
          flush();
        }
        break;
      default:
        (in_angle ? angle : plain).push_back(c);
    }
  }
  flush();
  return out;
}

}  // namespace qmail::local
