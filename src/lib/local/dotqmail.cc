#include "local/dotqmail.h"

#include "base/strings.h"

namespace qmail::local {

std::string_view kind_name(Kind kind) {
  switch (kind) {
    case Kind::kProgram:
      return "program";
    case Kind::kForward:
      return "forward";
    case Kind::kMbox:
      return "mbox";
    case Kind::kMaildir:
      return "maildir";
  }
  return "unknown";
}

Result<std::vector<Instruction>> parse(std::string_view text) {
  if (text.size() > kMaxDotQmail) return Status::temp("Uh-oh: .qmail file is too long. (#4.2.1)");
  std::vector<Instruction> out;
  std::size_t lineno = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::string_view line =
        nl == std::string_view::npos ? text.substr(pos) : text.substr(pos, nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++lineno;
    if (lineno > kMaxInstructions) {
      return Status::temp("Uh-oh: .qmail file has too many lines. (#4.2.1)");
    }
    // dot-qmail(5): extra spaces and tabs at the end of a line are allowed.
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    if (line.find('\0') != std::string_view::npos) {
      return Status::temp("Uh-oh: .qmail file contains a NUL byte. (#4.2.1)");
    }
    if (line.empty()) {
      // dot-qmail(5): blank lines are allowed, but not as the first line.
      if (lineno == 1) return Status::temp("Uh-oh: first line of .qmail file is blank. (#4.2.1)");
      continue;
    }
    switch (line[0]) {
      case '#':
        break;
      case '|':
        out.push_back({Kind::kProgram, std::string(line.substr(1))});
        break;
      case '/':
      case '.':
        out.push_back({line.back() == '/' ? Kind::kMaildir : Kind::kMbox, std::string(line)});
        break;
      case '&':
        if (line.size() == 1) {
          return Status::temp("Uh-oh: .qmail file has an empty forward line. (#4.2.1)");
        }
        out.push_back({Kind::kForward, std::string(line.substr(1))});
        break;
      default:
        // dot-qmail(5): an address starting with a letter or number needs
        // no '&'; like qmail, any other line is taken as an address too.
        out.push_back({Kind::kForward, std::string(line)});
        break;
    }
  }
  return out;
}

std::string safe_ext(std::string_view ext) {
  std::string s = str::lower(ext);
  for (char& c : s) {
    if (c == '.') c = ':';
  }
  return s;
}

std::vector<Candidate> candidates(std::string_view dash, std::string_view ext) {
  const std::string safe = safe_ext(ext);
  const std::string base = ".qmail" + std::string(dash);
  std::vector<Candidate> out;
  out.push_back({base + safe, false, ""});
  if (dash.empty()) return out;
  for (std::size_t i = safe.size();; --i) {
    if (i == 0 || safe[i - 1] == '-') {
      out.push_back({base + safe.substr(0, i) + "default", true, std::string(ext.substr(i))});
    }
    if (i == 0) break;
  }
  return out;
}

std::string_view after_first_dash(std::string_view s) {
  std::size_t i = s.find('-');
  return i == std::string_view::npos ? std::string_view() : s.substr(i + 1);
}

std::string_view before_last_dot(std::string_view s) {
  std::size_t i = s.rfind('.');
  return i == std::string_view::npos ? s : s.substr(0, i);
}

}  // namespace qmail::local
