// Environment changes that a long-lived process can make again and again
// without leaking.
//
// glibc's setenv keeps every "NAME=value" string it ever made (a pointer
// getenv handed out must stay valid), so each new value of a variable is
// memory the process never gets back. A worker sets per-connection and
// per-delivery variables (TCPREMOTEPORT, SENDER, RPLINE, ...) thousands of
// times: with setenv its heap grows for as long as it lives, and the
// leftovers scatter the heap's pages.
//
// set() and unset() keep the strings here and point environ at an array
// of ours; nothing is freed until restore(), which a worker calls between
// two uses (spawn::WorkerState), so a use's getenv pointers stay valid for
// the whole use. Code that still calls setenv or putenv works: the next
// set() takes whatever environ then is.
#pragma once

#include <string_view>
#include <vector>

namespace qmail::env {

// NAME=value, replacing any NAME already there. `name` has no '='.
void set(std::string_view name, std::string_view value);
// Removes every NAME=... entry.
void unset(std::string_view name);
// Points environ at a copy of `saved` (pointers to strings the caller
// keeps, then a null) and drops every string set() made since the last
// restore().
void restore(const std::vector<char*>& saved);

}  // namespace qmail::env
