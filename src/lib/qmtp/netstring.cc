#include "qmtp/netstring.h"

namespace qmail::qmtp {

std::string encode(std::string_view s) {
  std::string out = std::to_string(s.size());
  out.reserve(out.size() + s.size() + 2);
  out += ':';
  out += s;
  out += ',';
  return out;
}

namespace {

// Accumulates one digit into `len`; false on overflow or a leading zero.
bool add_digit(std::uint64_t& len, std::size_t& ndigits, char c) {
  if (ndigits == 1 && len == 0) return false;  // leading zero
  if (++ndigits > kMaxLengthDigits) return false;
  std::uint64_t d = static_cast<std::uint64_t>(c - '0');
  if (len > (UINT64_MAX - d) / 10) return false;
  len = len * 10 + d;
  return true;
}

}  // namespace

Result<std::uint64_t> read_length(io::Reader& in, std::uint64_t limit) {
  std::uint64_t len = 0;
  std::size_t ndigits = 0;
  for (;;) {
    auto c = in.get();
    if (!c.is_ok()) {
      if (in.eof() && ndigits > 0) return Status::perm("truncated netstring");
      return c.status();
    }
    if (*c == ':') break;
    if (*c < '0' || *c > '9' || !add_digit(len, ndigits, *c)) return Status::perm("bad netstring");
  }
  if (ndigits == 0) return Status::perm("bad netstring");
  if (len > limit) return Status::perm("netstring too long");
  return len;
}

Status read_comma(io::Reader& in) {
  auto c = in.get();
  if (!c.is_ok()) return in.eof() ? Status::perm("truncated netstring") : c.status();
  if (*c != ',') return Status::perm("bad netstring");
  return Status::ok();
}

Result<std::string> read(io::Reader& in, std::uint64_t limit) {
  QMAIL_ASSIGN_OR_RETURN(std::uint64_t len, read_length(in, limit));
  std::string out;
  out.reserve(static_cast<std::size_t>(len));
  while (out.size() < len) {
    QMAIL_ASSIGN_OR_RETURN(std::string_view part,
                           in.read_some(static_cast<std::size_t>(len - out.size())));
    if (part.empty()) return Status::perm("truncated netstring");
    out += part;
  }
  QMAIL_RETURN_IF_ERROR(read_comma(in));
  return out;
}

Result<std::string_view> parse(std::string_view& in, std::uint64_t limit) {
  std::uint64_t len = 0;
  std::size_t ndigits = 0, i = 0;
  for (;; ++i) {
    if (i >= in.size()) return Status::perm("truncated netstring");
    char c = in[i];
    if (c == ':') break;
    if (c < '0' || c > '9' || !add_digit(len, ndigits, c)) return Status::perm("bad netstring");
  }
  if (ndigits == 0) return Status::perm("bad netstring");
  if (len > limit) return Status::perm("netstring too long");
  std::size_t start = i + 1;
  if (len > in.size() - start || in.size() - start - len < 1)
    return Status::perm("truncated netstring");
  if (in[start + len] != ',') return Status::perm("bad netstring");
  std::string_view out = in.substr(start, static_cast<std::size_t>(len));
  in.remove_prefix(start + static_cast<std::size_t>(len) + 1);
  return out;
}

}  // namespace qmail::qmtp
