#include "base/env.h"

#include <cstring>
#include <deque>
#include <string>

extern char** environ;

namespace qmail::env {
namespace {

struct Env {
  std::vector<char*> ptrs;        // what environ points at when it is ours: entries, null
  std::deque<std::string> owned;  // what set() made; a deque never moves its elements
};

Env& state() {
  static Env* e = new Env;  // never destroyed: environ may point into it until exit
  return *e;
}

// Makes environ our array (taking its current entries), sized to its
// entries: libc's unsetenv may have shifted them down in place.
std::vector<char*>& ours() {
  Env& e = state();
  // (Empty before the first use: environ may then be null too, after a
  // clearenv, and still not be ours.)
  if (e.ptrs.empty() || environ != e.ptrs.data()) {
    std::vector<char*> now;
    for (char** p = environ; p && *p; ++p) now.push_back(*p);
    now.push_back(nullptr);
    e.ptrs.swap(now);
    environ = e.ptrs.data();
  } else {
    std::size_t n = 0;
    while (e.ptrs[n]) ++n;
    e.ptrs.resize(n + 1);
  }
  return e.ptrs;
}

bool names(const char* entry, std::string_view name) {
  return std::strncmp(entry, name.data(), name.size()) == 0 && entry[name.size()] == '=';
}

}  // namespace

void set(std::string_view name, std::string_view value) {
  std::string& s = state().owned.emplace_back();
  s.reserve(name.size() + 1 + value.size());
  s.append(name).append(1, '=').append(value);
  std::vector<char*>& p = ours();
  for (std::size_t i = 0; p[i]; ++i) {
    if (names(p[i], name)) {
      p[i] = s.data();
      return;
    }
  }
  p.back() = s.data();
  p.push_back(nullptr);
  environ = p.data();
}

void unset(std::string_view name) {
  std::vector<char*>& p = ours();
  std::size_t out = 0;
  for (std::size_t i = 0; p[i]; ++i)
    if (!names(p[i], name)) p[out++] = p[i];
  p.resize(out);
  p.push_back(nullptr);
}

void restore(const std::vector<char*>& saved) {
  Env& e = state();
  e.ptrs.assign(saved.begin(), saved.end());
  if (e.ptrs.empty() || e.ptrs.back()) e.ptrs.push_back(nullptr);
  environ = e.ptrs.data();
  e.owned.clear();
}

}  // namespace qmail::env
