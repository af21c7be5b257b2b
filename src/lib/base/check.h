// QMAIL_CHECK: a broken invariant is a bug; log it and abort. Never use it
// for bad input or a failing disk.
#pragma once

namespace qmail::internal {
[[noreturn]] void check_failed(const char* file, int line, const char* expr);
}

#define QMAIL_CHECK(cond) \
  ((cond) ? (void)0 : ::qmail::internal::check_failed(__FILE__, __LINE__, #cond))
