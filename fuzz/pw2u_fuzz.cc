// Fuzzes qmail-pw2u's passwd and users/ file parsing: the input is split
// at the first NUL into passwd text and users/subusers text; whatever it
// prints must be an assign file qmail-newu accepts, or an error.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/check.h"
#include "users/getpw.h"
#include "users/users.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::size_t nul = in.find('\0');
  std::string_view passwd = in.substr(0, nul);
  qmail::users::Pw2uFiles files;
  if (nul != std::string_view::npos) {
    files.subusers = std::string(in.substr(nul + 1));
    files.mailnames = std::map<std::string, std::string>{{"joe", "joe:j.oe"}};
  }
  qmail::users::Pw2uOptions opt;
  opt.home_strategy = 0;
  opt.allow_upper = size % 2 == 0;
  const qmail::users::Entry alias{"alias", 7790, 2108, "/q/alias", "", ""};
  auto owner = [](const std::string&) -> qmail::Result<std::optional<uid_t>> {
    return std::optional<uid_t>();
  };
  auto out = qmail::users::pw2u(passwd, opt, files, alias, owner);
  if (!out.is_ok()) return 0;
  // Homes that are not absolute or fields with ':' or '\n' inside make a
  // line qmail-newu rejects; that is the admin's input, so only parse.
  (void)qmail::users::parse_assign(*out);
  return 0;
}
