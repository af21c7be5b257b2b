// qmail-tcpto(8)'s table of addresses whose SMTP connections timed out,
// kept in HOME/queue/lock/tcpto (kTableSize bytes, made by qmail-setup).
//
// Rules (qmail-tcpto(8)): a connect timeout is recorded per address; a
// second one at least two minutes after the first (with no successful
// connection between) marks the address down, and qmail-remote skips it
// for about an hour after the last timeout. A successful connection, or a
// connection refused outright, clears the address.
//
// Format (ours; qmail's was IPv4-only): 32 slots of 32 bytes.
//   byte 0      family: 0 empty, 4 IPv4, 6 IPv6
//   byte 1      number of recent timeouts (saturates at 255)
//   bytes 2-7   zero
//   bytes 8-15  time of the last timeout, seconds since the epoch, big endian
//   bytes 16-31 the address (IPv4 in the first 4 bytes)
// Readers and writers hold flock() on the file; a missing or unreadable
// table is ignored, as qmail does (it only makes delivery slower).
#pragma once

#include <cstdint>
#include <ctime>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "dns/dns.h"

namespace qmail::remote {

inline constexpr std::size_t kTcptoSize = 1024;
inline constexpr std::size_t kTcptoSlot = 32;
inline constexpr std::size_t kTcptoSlots = kTcptoSize / kTcptoSlot;
// qmail-tcpto(8): "after at least two minutes".
inline constexpr std::int64_t kTcptoRetryGap = 120;
// qmail-tcpto(8): "at least another hour"; `jitter` (0..31) spreads the
// retries of many qmail-remotes, as qmail's own does, by up to ~half an hour.
inline std::int64_t tcpto_down_for(unsigned jitter) { return (60 + (jitter & 31)) * 64; }

struct TcptoEntry {
  dns::IpAddr ip;
  unsigned timeouts = 0;
  std::int64_t when = 0;
};

// Operations on a table image (a kTcptoSize buffer); pure, for tests.
std::vector<TcptoEntry> tcpto_entries(std::span<const std::uint8_t> table);
bool tcpto_is_down(std::span<const std::uint8_t> table, const dns::IpAddr& ip, std::int64_t now,
                   unsigned jitter);
// Records a connection attempt: `timed_out` true for a connect timeout,
// false for anything else (which clears the entry).
void tcpto_record(std::span<std::uint8_t> table, const dns::IpAddr& ip, bool timed_out,
                  std::int64_t now);

// The same on the file at `path`, under flock. Errors are temp; callers in
// qmail-remote ignore them.
Result<bool> tcpto_file_is_down(const std::string& path, const dns::IpAddr& ip);
Status tcpto_file_record(const std::string& path, const dns::IpAddr& ip, bool timed_out);
// qmail-tcpto: the lines to print. qmail-tcpok: clear the table.
Result<std::string> tcpto_file_report(const std::string& path);
Status tcpto_file_clear(const std::string& path);

}  // namespace qmail::remote
