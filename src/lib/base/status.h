// Status and Result<T>: how a function inside a program reports failure.
// Every error says where it is made whether it is temporary (retrying can
// help) or permanent. Across process boundaries these map to qmail's exit
// codes (see exit_codes.h and run_program.h).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "base/check.h"

namespace qmail {

class [[nodiscard]] Status {
 public:
  enum class Kind { kOk, kTemp, kPerm };

  Status() = default;
  static Status ok() { return Status(); }
  static Status temp(std::string msg) { return Status(Kind::kTemp, std::move(msg)); }
  static Status perm(std::string msg) { return Status(Kind::kPerm, std::move(msg)); }
  // Temporary error whose text is `what` followed by ": " and strerror(errno).
  static Status temp_errno(std::string_view what);
  // Same with an explicit errno value.
  static Status temp_errno(std::string_view what, int err);

  bool is_ok() const { return kind_ == Kind::kOk; }
  bool is_temp() const { return kind_ == Kind::kTemp; }
  bool is_perm() const { return kind_ == Kind::kPerm; }
  Kind kind() const { return kind_; }
  const std::string& message() const { return message_; }
  // Errno that caused a temp_errno status, or 0.
  int err() const { return err_; }

 private:
  Status(Kind kind, std::string msg, int err = 0)
      : kind_(kind), message_(std::move(msg)), err_(err) {}
  Kind kind_ = Kind::kOk;
  std::string message_;
  int err_ = 0;
};

// A value or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    QMAIL_CHECK(!status_.is_ok());
  }

  bool is_ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & {
    QMAIL_CHECK(value_.has_value());
    return *value_;
  }
  const T& value() const& {
    QMAIL_CHECK(value_.has_value());
    return *value_;
  }
  T&& value() && {
    QMAIL_CHECK(value_.has_value());
    return std::move(*value_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

namespace internal {
inline Status to_status(const Status& s) { return s; }
template <typename T>
Status to_status(const Result<T>& r) {
  return r.status();
}
}  // namespace internal

}  // namespace qmail

#define QMAIL_CONCAT_INNER(a, b) a##b
#define QMAIL_CONCAT(a, b) QMAIL_CONCAT_INNER(a, b)

// Returns the status from the enclosing function if `expr` is not ok.
#define QMAIL_RETURN_IF_ERROR(expr)                                           \
  do {                                                                        \
    auto&& qmail_status_ = (expr);                                            \
    if (!qmail_status_.is_ok()) return ::qmail::internal::to_status(qmail_status_); \
  } while (0)

// `QMAIL_ASSIGN_OR_RETURN(Fd fd, open(...));` declares and assigns, or returns
// the error.
#define QMAIL_ASSIGN_OR_RETURN(decl, expr) \
  QMAIL_ASSIGN_OR_RETURN_IMPL(QMAIL_CONCAT(qmail_result_, __LINE__), decl, expr)
#define QMAIL_ASSIGN_OR_RETURN_IMPL(tmp, decl, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.is_ok()) return tmp.status();             \
  decl = std::move(tmp).value()
