// A buffer kept for the life of the process and lent to one user at a
// time. A worker that serves session after session (a qmail-smtpd or
// qmail-local worker) then writes the same few pages for every session,
// instead of malloc placing each session's big buffers afresh among the
// small allocations and the worker keeping every page any of them ever
// touched (docs/design.md, "What a worker keeps").
#pragma once

#include <utility>

namespace qmail {

template <class T>
class Kept {
 public:
  // The kept buffer, or an empty T when it is lent out already (a second
  // user at the same time simply allocates its own).
  T take() {
    held_ = false;
    return std::exchange(value_, T{});
  }
  // Keeps `value` for the next take(), unless one is kept already.
  void give(T value) {
    if (held_) return;
    value_ = std::move(value);
    held_ = true;
  }

 private:
  T value_{};
  bool held_ = false;
};

}  // namespace qmail
