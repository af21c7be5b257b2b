#include "header/header.h"

#include "base/strings.h"

namespace qmail::header {

std::string_view field_name(std::string_view line) {
  std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) return {};
  std::size_t end = colon;
  while (end > 0 && (line[end - 1] == ' ' || line[end - 1] == '\t')) --end;
  if (end == 0) return {};
  for (std::size_t i = 0; i < end; ++i) {
    unsigned char c = static_cast<unsigned char>(line[i]);
    if (c <= 32 || c >= 127) return {};
  }
  return line.substr(0, end);
}

std::string_view field_value(std::string_view field) {
  std::size_t colon = field.find(':');
  if (colon == std::string_view::npos) return {};
  return field.substr(colon + 1);
}

bool is_named(std::string_view field, std::string_view name) {
  return str::iequals(field_name(field), name);
}

std::string unfold(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    if (c == '\n') {
      bool fold = i + 1 < text.size() && (text[i + 1] == ' ' || text[i + 1] == '\t');
      bool last = i + 1 == text.size();
      if (fold || last) continue;
    }
    if (c == '\r' && i + 1 == text.size()) continue;
    out += c;
  }
  return out;
}

Result<bool> Parser::feed(std::string_view line) {
  total_ += line.size();
  if (total_ > limit_)
    return Status::perm("message header is longer than " + std::to_string(limit_) +
                        " bytes (#5.3.4)");
  auto stored = [&](std::string s) {
    if (s.empty() || s.back() != '\n') s += '\n';
    return s;
  };
  if (open_ && (line[0] == ' ' || line[0] == '\t')) {
    current_ += line;
    if (current_.back() != '\n') current_ += '\n';
    return true;
  }
  if (open_) {
    fields_.push_back(std::move(current_));
    current_.clear();
    open_ = false;
  }
  if (line == "\n" || line == "\r\n") {
    end_ = End::kBlank;
    return false;
  }
  if (mbox_line_ && line.starts_with("From ")) {
    current_ = stored("MBOX-Line: " + std::string(line));
  } else if (!field_name(line).empty()) {
    current_ = stored(std::string(line));
  } else {
    body_line_ = stored(std::string(line));
    end_ = End::kBodyLine;
    return false;
  }
  open_ = true;
  return true;
}

void Parser::finish() {
  if (open_) fields_.push_back(std::move(current_));
  current_.clear();
  open_ = false;
  end_ = End::kEof;
}

namespace {
Header take(Parser& p) {
  Header h;
  h.fields = std::move(p.fields());
  h.end = p.end();
  h.body_line = p.body_line();
  return h;
}
}  // namespace

Result<Header> read(io::Reader& in, std::size_t limit) {
  Parser p(limit);
  for (;;) {
    // The line may use the rest of the budget; one more byte for its '\n'.
    auto r = in.read_line(limit);
    if (!r.is_ok()) {
      if (in.eof() && in.buffered() == 0 && r.status().message() == "end of input") {
        p.finish();
        return take(p);
      }
      if (r.status().is_perm())
        return Status::perm("message header is longer than " + std::to_string(limit) +
                            " bytes (#5.3.4)");
      return r.status();
    }
    // read_line strips the '\n'; a line that ended at EOF instead has none.
    std::string line(*r);
    bool last_without_newline = in.eof() && in.buffered() == 0;
    if (!last_without_newline) line += '\n';
    QMAIL_ASSIGN_OR_RETURN(bool more, p.feed(line));
    if (!more) return take(p);
    if (last_without_newline) {
      p.finish();
      return take(p);
    }
  }
}

Result<Header> parse(std::string_view text, std::size_t& rest, std::size_t limit) {
  Parser p(limit);
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    QMAIL_ASSIGN_OR_RETURN(bool more, p.feed(text.substr(pos, end - pos)));
    pos = end;
    if (!more) {
      rest = pos;
      return take(p);
    }
  }
  p.finish();
  rest = pos;
  return take(p);
}

}  // namespace qmail::header
