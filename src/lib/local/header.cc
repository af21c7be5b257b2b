#include "local/header.h"

#include <unistd.h>

#include <cerrno>

#include "addr/addr.h"
#include "base/strings.h"
#include "header/header.h"
#include "local/message.h"

namespace qmail::local {

std::vector<HeaderField> parse_header(std::string_view text) {
  std::vector<HeaderField> out;
  std::size_t rest = 0;
  // The project's one header parser; `text` is already bounded by the
  // caller, so the limit only has to admit it.
  auto parsed = header::parse(text, rest, text.size() + 1);
  if (!parsed.is_ok()) return out;
  for (const std::string& field : parsed->fields) {
    if (out.size() >= kMaxHeaderFields) break;
    std::string_view name = header::field_name(field);
    if (name.empty()) continue;
    std::string value = header::unfold(header::field_value(field));
    out.push_back({std::string(name), std::string(str::trim(value))});
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
  // The project's one address parser; an unparsable field names nobody.
  auto list = addr::parse_list(value);
  if (!list.is_ok()) return out;
  addr::for_each_mailbox(*list, [&](addr::Mailbox& m) {
    if (m.is_address() && !m.is_null()) out.push_back(m.address());
  });
  return out;
}

}  // namespace qmail::local
