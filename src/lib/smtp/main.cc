#include "smtp/main.h"

#include "io/io.h"
#include "smtp/session.h"

namespace qmail::smtp {

void set_on_session_end(void (*fn)()) { detail::g_on_session_end = fn; }

Status smtpd_main(std::span<char*>) {
  auto config = load_config();
  if (!config.is_ok()) {
    // qmail-smtpd(8): the client hears a temporary failure.
    (void)io::write_all(1, "421 4.3.0 unable to read controls (#4.3.0)\r\n");
    return config.status();
  }
  return serve(*config, 0, 1);
}

}  // namespace qmail::smtp
