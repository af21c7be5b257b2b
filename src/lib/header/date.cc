#include "header/date.h"

#include <cstdio>
#include <cstdlib>

namespace qmail::header {

std::string format_date(std::time_t when, bool local) {
  static const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  struct tm tm {};
  long offset = 0;  // seconds east of UTC
  if (local) {
    ::localtime_r(&when, &tm);
    offset = tm.tm_gmtoff;
  } else {
    ::gmtime_r(&when, &tm);
  }
  long minutes = std::labs(offset) / 60;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %d %s %d %02d:%02d:%02d %c%02ld%02ld", kDays[tm.tm_wday % 7],
                tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec, offset < 0 ? '-' : '+', minutes / 60, minutes % 60);
  return buf;
}

}  // namespace qmail::header
