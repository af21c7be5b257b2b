// RFC 5322 3.3 dates for Date, Resent-Date and Received fields.
#pragma once

#include <ctime>
#include <string>

namespace qmail::header {

// `when` as an RFC 5322 date-time, e.g. "Sun, 22 Nov 2026 00:32:04 +0000":
// in UTC (zone "+0000") by default; with `local`, in the local time zone
// (TZ) with its numeric offset, as predate(1) writes it.
std::string format_date(std::time_t when, bool local = false);

}  // namespace qmail::header
