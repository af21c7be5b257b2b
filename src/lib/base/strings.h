// Small byte-string helpers. Mail is bytes: nothing here assumes NUL
// termination or a locale.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qmail::str {

// ASCII-only case folding (addresses' domains, header names).
char lower(char c);
std::string lower(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
bool istarts_with(std::string_view s, std::string_view prefix);

// Splits on every `sep` (empty fields kept).
std::vector<std::string_view> split(std::string_view s, char sep);

// Strips spaces and tabs (and CR/LF) at both ends.
std::string_view trim(std::string_view s);

// Parses an unsigned decimal with std::from_chars; nullopt on any junk,
// empty input, or a value above `max`.
std::optional<std::uint64_t> parse_uint(std::string_view s,
                                        std::uint64_t max = UINT64_MAX);

// Is every byte printable ASCII or 8-bit (no controls)?
bool has_control(std::string_view s);

}  // namespace qmail::str
