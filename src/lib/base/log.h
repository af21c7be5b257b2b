// One line per event on fd 2, "program: level: text", for multilog or
// splogger. Control characters in the text are escaped, so a peer cannot
// forge log lines.
#pragma once

#include <string>
#include <string_view>

namespace qmail::log {

void set_program(std::string_view name);
const std::string& program();

void info(std::string_view msg);   // "program: msg"
void warn(std::string_view msg);   // "program: warning: msg"
void fatal(std::string_view msg);  // "program: fatal: msg"

// Writes `line` plus a newline to fd 2 as one write, escaping control
// characters (other than the final newline).
void raw(std::string_view line);

// Returns `s` with bytes < 32 and 127 shown as "\ooo" (octal), for logs.
std::string escape(std::string_view s);

}  // namespace qmail::log
