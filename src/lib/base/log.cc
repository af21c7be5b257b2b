#include "base/log.h"

#include <unistd.h>

#include <cerrno>

namespace qmail::log {

namespace {
std::string& program_name() {
  static std::string name = "qmail";
  return name;
}

void write_line(std::string line) {
  line += '\n';
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(2, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}
}  // namespace

void set_program(std::string_view name) { program_name() = std::string(name); }
const std::string& program() { return program_name(); }

std::string escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (c < 32 || c == 127) {
      out += '\\';
      out += static_cast<char>('0' + ((c >> 6) & 7));
      out += static_cast<char>('0' + ((c >> 3) & 7));
      out += static_cast<char>('0' + (c & 7));
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

void raw(std::string_view line) { write_line(escape(line)); }
void info(std::string_view msg) { write_line(program() + ": " + escape(msg)); }
void warn(std::string_view msg) { write_line(program() + ": warning: " + escape(msg)); }
void fatal(std::string_view msg) { write_line(program() + ": fatal: " + escape(msg)); }

}  // namespace qmail::log
