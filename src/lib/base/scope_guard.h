// ScopeGuard: run an action on scope exit unless cancelled ("undo unless
// committed").
#pragma once

#include <utility>

namespace qmail {

template <typename F>
class ScopeGuard {
 public:
  explicit ScopeGuard(F f) : f_(std::move(f)) {}
  ScopeGuard(const ScopeGuard&) = delete;
  ScopeGuard& operator=(const ScopeGuard&) = delete;
  ~ScopeGuard() {
    if (active_) f_();
  }
  void cancel() { active_ = false; }

 private:
  F f_;
  bool active_ = true;
};

}  // namespace qmail
