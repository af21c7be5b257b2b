// Netstrings (cr.yp.to/proto/netstrings.txt), the framing of QMTP and
// QMQP: "<len>:<bytes>," with <len> decimal, no leading zeros except for
// the empty string. Every reader takes a limit on the length it accepts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "io/io.h"

namespace qmail::qmtp {

// A length needs at most this many digits (2^64 - 1 has 20).
inline constexpr std::size_t kMaxLengthDigits = 20;

// "<len>:" + s + ",".
std::string encode(std::string_view s);

// Reads "<len>:" from `in` and returns len. Errors: perm "bad netstring"
// (junk, leading zero, missing ':'), perm "netstring too long" when len >
// limit, temp on read failure. A clean EOF before any byte is a perm
// error with in.eof() true.
Result<std::uint64_t> read_length(io::Reader& in, std::uint64_t limit);
// Reads the "," that ends a netstring. Errors: perm "bad netstring".
Status read_comma(io::Reader& in);
// Reads a whole netstring of at most `limit` bytes.
Result<std::string> read(io::Reader& in, std::uint64_t limit);

// Parses one netstring from the front of `in` (advancing `in` past it).
// The view points into the original buffer. Errors: perm "bad netstring",
// "netstring too long" (> limit), "truncated netstring".
Result<std::string_view> parse(std::string_view& in, std::uint64_t limit);

}  // namespace qmail::qmtp
