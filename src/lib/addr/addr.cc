#include "addr/addr.h"

#include <cstring>
#include <utility>

namespace qmail::addr {

namespace {

// RFC 5322 3.2.3 atext, with 8-bit bytes allowed (RFC 6532).
bool is_atext(unsigned char c) {
  if (c >= 128) return true;
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return c != 0 && std::strchr("!#$%&'*+-/=?^_`{|}~", c) != nullptr;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// RFC 5322 3.2.3 specials, plus the white space that ends an atom. A
// backslash outside quotes is kept in the atom (lenient, as qmail).
bool ends_atom(char c) { return is_space(c) || std::strchr("()<>@,;:.\"[]", c) != nullptr; }

struct Token {
  enum Type { kAtom, kQuoted, kLiteral, kComment, kSpecial };
  Type type;
  std::string text;  // atom: as written; quoted: value; literal, comment: raw inside
  char special = 0;
  bool space_before = false;

  bool is_word() const { return type == kAtom || type == kQuoted || type == kLiteral; }
  bool is(char c) const { return type == kSpecial && special == c; }
  // Value as part of an envelope address.
  std::string value() const {
    switch (type) {
      case kLiteral:
        return "[" + text + "]";
      case kSpecial:
        return std::string(1, special);
      case kComment:
        return "";
      default:
        return text;
    }
  }
  // As written back into a header.
  std::string render() const {
    switch (type) {
      case kAtom:
        return text;
      case kQuoted:
        return quote_string(text);
      case kLiteral:
        return "[" + text + "]";
      case kComment:
        return "(" + text + ")";
      case kSpecial:
        return std::string(1, special);
    }
    return "";
  }
};

// Reads text up to the closing `close`, honouring backslash escapes. CR and
// LF vanish (they can only be folding). Nesting of `open` counts when
// `nest`. `keep_escapes` keeps the backslashes (comments, literals are
// re-emitted raw); otherwise the value is unescaped (quoted strings).
Result<std::string> read_delimited(std::string_view s, std::size_t& i, char open, char close,
                                   bool nest, bool keep_escapes, const char* what) {
  std::string out;
  std::size_t depth = 1;
  while (i < s.size()) {
    char c = s[i++];
    if (c == '\r' || c == '\n') continue;
    if (c == '\\') {
      if (i >= s.size()) break;
      char n = s[i++];
      if (n == '\r' || n == '\n') continue;
      if (keep_escapes) out += '\\';
      out += n;
      continue;
    }
    if (nest && c == open) {
      if (++depth > kMaxCommentDepth) return Status::perm("comments nested too deep");
    } else if (c == close) {
      if (--depth == 0) return out;
    }
    out += c;
  }
  return Status::perm(std::string("unterminated ") + what);
}

Result<std::vector<Token>> tokenize(std::string_view s) {
  std::vector<Token> out;
  std::size_t i = 0;
  bool space = false;
  while (i < s.size()) {
    char c = s[i];
    if (is_space(c)) {
      space = true;
      ++i;
      continue;
    }
    Token t;
    t.space_before = space;
    space = false;
    if (c == '(') {
      ++i;
      t.type = Token::kComment;
      QMAIL_ASSIGN_OR_RETURN(t.text, read_delimited(s, i, '(', ')', true, true, "comment"));
    } else if (c == '"') {
      ++i;
      t.type = Token::kQuoted;
      QMAIL_ASSIGN_OR_RETURN(t.text, read_delimited(s, i, '"', '"', false, false, "quoted string"));
    } else if (c == '[') {
      ++i;
      t.type = Token::kLiteral;
      QMAIL_ASSIGN_OR_RETURN(t.text, read_delimited(s, i, '[', ']', false, true, "domain literal"));
    } else if (c == ')' || c == ']') {
      return Status::perm(std::string("unbalanced '") + c + "'");
    } else if (ends_atom(c)) {
      ++i;
      t.type = Token::kSpecial;
      t.special = c;
    } else {
      std::size_t start = i;
      while (i < s.size() && !ends_atom(s[i])) ++i;
      t.type = Token::kAtom;
      t.text = std::string(s.substr(start, i - start));
    }
    out.push_back(std::move(t));
  }
  return out;
}

using Span = std::vector<const Token*>;

// A display name: as written, unless it holds specials a phrase cannot
// (e.g. "a@b <a@b>"), in which case the whole of it is quoted.
std::string render_phrase(const Span& toks) {
  bool must_quote = false;
  for (const Token* t : toks)
    if (t->type == Token::kLiteral || (t->type == Token::kSpecial && t->special != '.'))
      must_quote = true;
  std::string out;
  for (const Token* t : toks) {
    if (!out.empty() && t->space_before) out += ' ';
    out += must_quote && t->type == Token::kQuoted ? t->text : t->render();
  }
  return must_quote ? quote_string(out) : out;
}

// local@domain from the words, dots and ats of one addr-spec (comments
// removed), split at the last '@'. A domain is atoms, dots and literals: a
// quoted string there could not be written back (RFC 5322 3.4.1).
Result<Mailbox> build_spec(const Span& toks) {
  Mailbox m;
  std::size_t at = toks.size();
  for (std::size_t k = 0; k < toks.size(); ++k)
    if (toks[k]->is('@')) at = k;
  for (std::size_t k = 0; k < toks.size(); ++k) {
    if (k == at) continue;
    if (k > at && toks[k]->type == Token::kQuoted) return Status::perm("quoted string in a domain");
    (k < at ? m.local : m.domain) += toks[k]->value();
  }
  m.has_at = at != toks.size();
  return m;
}

// The inside of <...>: an optional route, then an addr-spec.
Result<Mailbox> build_angle(const Span& inner) {
  Span words;
  std::vector<std::string> comments;
  for (const Token* t : inner) {
    if (t->type == Token::kComment)
      comments.push_back(t->text);
    else
      words.push_back(t);
  }
  // RFC 5322 4.4 obs-route: "@a,@b:" before the address; qmail-header(5):
  // source routes are stripped.
  if (!words.empty() && words[0]->is('@')) {
    for (std::size_t k = 0; k < words.size(); ++k) {
      if (words[k]->is(':')) {
        words.erase(words.begin(), words.begin() + static_cast<std::ptrdiff_t>(k) + 1);
        break;
      }
    }
  }
  for (std::size_t k = 0; k < words.size(); ++k) {
    const Token* t = words[k];
    if (t->type == Token::kSpecial && !t->is('.') && !t->is('@'))
      return Status::perm(std::string("unexpected '") + t->special + "' in <>");
    if (k > 0 && t->is_word() && words[k - 1]->is_word())
      return Status::perm("space inside <> address");
  }
  QMAIL_ASSIGN_OR_RETURN(Mailbox m, build_spec(words));
  m.angle = true;
  m.comments = std::move(comments);
  return m;
}

// One element between commas (or group delimiters): usually one mailbox,
// but "djb fred" is two and "A <a@b> B <c@d>" is two as well.
Status parse_segment(const std::vector<Token>& seg, std::vector<Mailbox>& out) {
  std::size_t i = 0;
  while (i < seg.size()) {
    // Find whether a '<' comes before the run ends.
    std::size_t lt = i;
    while (lt < seg.size() && !seg[lt].is('<')) ++lt;
    if (lt < seg.size()) {
      Span phrase;
      for (std::size_t k = i; k < lt; ++k) phrase.push_back(&seg[k]);
      std::size_t gt = lt + 1;
      Span inner;
      while (gt < seg.size() && !seg[gt].is('>')) inner.push_back(&seg[gt++]);
      if (gt == seg.size()) return Status::perm("unbalanced '<'");
      QMAIL_ASSIGN_OR_RETURN(Mailbox m, build_angle(inner));
      m.phrase = render_phrase(phrase);
      i = gt + 1;
      while (i < seg.size() && seg[i].type == Token::kComment) m.comments.push_back(seg[i++].text);
      if (i < seg.size() && seg[i].type == Token::kSpecial && !seg[i].is('<'))
        return Status::perm(std::string("unexpected '") + seg[i].special + "' after <>");
      out.push_back(std::move(m));
      continue;
    }
    // No angle brackets: addr-specs, split where a word follows a word.
    Span words;
    std::vector<std::string> comments;
    auto flush = [&]() -> Status {
      Mailbox m;
      if (!words.empty()) {
        QMAIL_ASSIGN_OR_RETURN(m, build_spec(words));
      }
      // A lone "" is no address: it goes the way of a comment-only element.
      if (!m.is_address()) {
        if (!comments.empty()) {
          if (!out.empty()) {
            for (auto& c : comments) out.back().comments.push_back(std::move(c));
          } else {
            m.comments = std::move(comments);
            out.push_back(std::move(m));
          }
        }
      } else {
        m.comments = std::move(comments);
        out.push_back(std::move(m));
      }
      words.clear();
      comments.clear();
      return Status::ok();
    };
    for (; i < seg.size(); ++i) {
      const Token& t = seg[i];
      if (t.type == Token::kComment) {
        comments.push_back(t.text);
        continue;
      }
      if (t.is_word() && !words.empty() && words.back()->is_word()) QMAIL_RETURN_IF_ERROR(flush());
      words.push_back(&t);
    }
    QMAIL_RETURN_IF_ERROR(flush());
  }
  return Status::ok();
}

}  // namespace

std::string quote_string(std::string_view value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\r' || c == '\n') continue;
    out += c;
  }
  out += '"';
  return out;
}

std::string escape_comment(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '(' || c == ')' || c == '\\') out += '\\';
    if (c == '\r' || c == '\n') continue;
    out += c;
  }
  return out;
}

Split split(std::string_view address) {
  Split s;
  std::size_t at = address.rfind('@');
  if (at == std::string_view::npos) {
    s.local = address;
    return s;
  }
  s.local = address.substr(0, at);
  s.domain = address.substr(at + 1);
  s.has_at = true;
  return s;
}

bool needs_quote(std::string_view local) {
  if (local.empty() || local.front() == '.' || local.back() == '.') return true;
  char prev = 0;
  for (char c : local) {
    if (c == '.') {
      if (prev == '.') return true;
    } else if (!is_atext(static_cast<unsigned char>(c))) {
      return true;
    }
    prev = c;
  }
  return false;
}

std::string quote_local(std::string_view local) {
  return needs_quote(local) ? quote_string(local) : std::string(local);
}

std::string quote(std::string_view address) {
  if (address.empty()) return "";
  Split s = split(address);
  std::string out = quote_local(s.local);
  if (s.has_at) {
    out += '@';
    out += s.domain;
  }
  return out;
}

std::string Mailbox::address() const {
  if (!has_at) return local;
  return local + "@" + domain;
}

Result<AddressList> parse_list(std::string_view text) {
  QMAIL_ASSIGN_OR_RETURN(std::vector<Token> toks, tokenize(text));
  AddressList out;
  bool in_group = false;
  Group group;
  std::vector<Token> seg;
  int depth = 0;
  auto flush = [&]() -> Status {
    std::vector<Mailbox> boxes;
    QMAIL_RETURN_IF_ERROR(parse_segment(seg, boxes));
    seg.clear();
    for (auto& b : boxes) {
      if (in_group)
        group.members.push_back(std::move(b));
      else
        out.emplace_back(std::move(b));
    }
    return Status::ok();
  };
  for (Token& t : toks) {
    if (t.is('<')) {
      if (depth > 0) return Status::perm("'<' inside <>");
      ++depth;
    } else if (t.is('>')) {
      if (depth == 0) return Status::perm("unbalanced '>'");
      --depth;
    } else if (depth == 0 && (t.is(',') || t.is(';'))) {
      QMAIL_RETURN_IF_ERROR(flush());
      if (t.is(';') && in_group) {
        out.emplace_back(std::move(group));
        group = Group();
        in_group = false;
      }
      continue;
    } else if (depth == 0 && t.is(':')) {
      if (in_group) return Status::perm("group inside a group");
      Span phrase;
      for (const Token& p : seg) phrase.push_back(&p);
      group.phrase = render_phrase(phrase);
      seg.clear();
      in_group = true;
      continue;
    }
    seg.push_back(std::move(t));
  }
  if (depth > 0) return Status::perm("unbalanced '<'");
  QMAIL_RETURN_IF_ERROR(flush());
  if (in_group) out.emplace_back(std::move(group));
  return out;
}

Result<Mailbox> parse_one(std::string_view text) {
  QMAIL_ASSIGN_OR_RETURN(AddressList list, parse_list(text));
  const Mailbox* found = nullptr;
  for (const Entry& e : list) {
    const Mailbox* m = std::get_if<Mailbox>(&e);
    if (!m) return Status::perm("a group is not an address");
    if (!m->is_address()) continue;
    if (found) return Status::perm("more than one address");
    found = m;
  }
  if (!found) return Status::perm("no address");
  return *found;
}

void for_each_mailbox(AddressList& list, const std::function<void(Mailbox&)>& fn) {
  for (Entry& e : list) {
    if (auto* m = std::get_if<Mailbox>(&e)) {
      fn(*m);
    } else {
      for (Mailbox& member : std::get<Group>(e).members) fn(member);
    }
  }
}

std::string format(const Mailbox& m) {
  std::string out;
  if (m.is_address()) {
    std::string a;
    if (!m.is_null()) {
      a = quote_local(m.local);
      if (m.has_at) a += "@" + m.domain;
    }
    if (m.angle) {
      if (!m.phrase.empty()) out = m.phrase + " ";
      out += "<" + a + ">";
    } else {
      out = a;
    }
  }
  for (const std::string& c : m.comments) {
    if (!out.empty()) out += ' ';
    out += "(" + c + ")";
  }
  return out;
}

std::string format(const Group& g) {
  std::string out = g.phrase + ":";
  bool first = true;
  for (const Mailbox& m : g.members) {
    out += first ? " " : ", ";
    out += format(m);
    first = false;
  }
  if (first) out += ' ';
  out += ';';
  return out;
}

std::string format_list(const AddressList& list, std::size_t column, std::size_t width) {
  std::string out;
  std::size_t used = column;
  bool first = true;
  for (const Entry& e : list) {
    std::string s = std::visit([](const auto& x) { return format(x); }, e);
    if (first) {
      out = s;
      used += s.size();
      first = false;
    } else if (used + 2 + s.size() + 1 > width) {  // room for a following ,
      out += ",\n  " + s;
      used = 2 + s.size();
    } else {
      out += ", " + s;
      used += 2 + s.size();
    }
  }
  return out;
}

}  // namespace qmail::addr
