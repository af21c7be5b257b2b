#include "remote/tcpto.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>

#include "io/fd.h"

namespace qmail::remote {

namespace {

std::uint8_t family_byte(const dns::IpAddr& ip) { return ip.family == AF_INET6 ? 6 : 4; }

std::size_t addr_len(std::uint8_t fam) { return fam == 6 ? 16 : 4; }

bool slot_matches(const std::uint8_t* s, const dns::IpAddr& ip) {
  std::uint8_t fam = family_byte(ip);
  return s[0] == fam && std::memcmp(s + 16, ip.bytes.data(), addr_len(fam)) == 0;
}

std::int64_t slot_when(const std::uint8_t* s) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | s[8 + i];
  return static_cast<std::int64_t>(v);
}

void set_when(std::uint8_t* s, std::int64_t when) {
  auto v = static_cast<std::uint64_t>(when);
  for (int i = 7; i >= 0; --i) {
    s[8 + i] = static_cast<std::uint8_t>(v & 0xff);
    v >>= 8;
  }
}

std::uint8_t* find_slot(std::span<std::uint8_t> t, const dns::IpAddr& ip) {
  for (std::size_t i = 0; i + kTcptoSlot <= t.size(); i += kTcptoSlot)
    if (slot_matches(&t[i], ip)) return &t[i];
  return nullptr;
}

const std::uint8_t* find_slot(std::span<const std::uint8_t> t, const dns::IpAddr& ip) {
  for (std::size_t i = 0; i + kTcptoSlot <= t.size(); i += kTcptoSlot)
    if (slot_matches(&t[i], ip)) return &t[i];
  return nullptr;
}

}  // namespace

std::vector<TcptoEntry> tcpto_entries(std::span<const std::uint8_t> table) {
  std::vector<TcptoEntry> out;
  for (std::size_t i = 0; i + kTcptoSlot <= table.size(); i += kTcptoSlot) {
    const std::uint8_t* s = &table[i];
    if ((s[0] != 4 && s[0] != 6) || s[1] == 0) continue;
    TcptoEntry e;
    e.ip.family = s[0] == 6 ? AF_INET6 : AF_INET;
    std::memcpy(e.ip.bytes.data(), s + 16, addr_len(s[0]));
    e.timeouts = s[1];
    e.when = slot_when(s);
    out.push_back(e);
  }
  return out;
}

bool tcpto_is_down(std::span<const std::uint8_t> table, const dns::IpAddr& ip, std::int64_t now,
                   unsigned jitter) {
  const std::uint8_t* s = find_slot(table, ip);
  if (!s || s[1] < 2) return false;
  return now - slot_when(s) < tcpto_down_for(jitter);
}

void tcpto_record(std::span<std::uint8_t> table, const dns::IpAddr& ip, bool timed_out,
                  std::int64_t now) {
  std::uint8_t* s = find_slot(table, ip);
  if (!timed_out) {
    if (s) std::memset(s, 0, kTcptoSlot);
    return;
  }
  if (s) {
    if (s[1] == 0 || now - slot_when(s) >= kTcptoRetryGap) {
      if (s[1] < 255) ++s[1];
      set_when(s, now);
    }
    return;
  }
  // A free slot, else the one whose last timeout is oldest.
  std::uint8_t* victim = nullptr;
  for (std::size_t i = 0; i + kTcptoSlot <= table.size(); i += kTcptoSlot) {
    std::uint8_t* c = &table[i];
    if (c[0] == 0 || c[1] == 0) {
      victim = c;
      break;
    }
    if (!victim || slot_when(c) < slot_when(victim)) victim = c;
  }
  if (!victim) return;
  std::memset(victim, 0, kTcptoSlot);
  victim[0] = family_byte(ip);
  victim[1] = 1;
  set_when(victim, now);
  std::memcpy(victim + 16, ip.bytes.data(), addr_len(victim[0]));
}

namespace {

struct Locked {
  Fd fd;
  std::array<std::uint8_t, kTcptoSize> table{};
};

Result<Locked> open_locked(const std::string& path, bool write) {
  Locked l;
  l.fd = Fd(::open(path.c_str(), (write ? O_RDWR : O_RDONLY) | O_CLOEXEC));
  if (!l.fd.valid()) return Status::temp_errno("open " + path);
  if (::flock(l.fd.get(), write ? LOCK_EX : LOCK_SH) != 0) return Status::temp_errno("lock tcpto");
  ssize_t n = ::pread(l.fd.get(), l.table.data(), l.table.size(), 0);
  if (n < 0) return Status::temp_errno("read " + path);
  return l;
}

Status write_back(Locked& l) {
  ssize_t n = ::pwrite(l.fd.get(), l.table.data(), l.table.size(), 0);
  if (n != static_cast<ssize_t>(l.table.size())) return Status::temp_errno("write tcpto");
  return Status::ok();
}

std::int64_t now_s() { return static_cast<std::int64_t>(std::time(nullptr)); }

}  // namespace

Result<bool> tcpto_file_is_down(const std::string& path, const dns::IpAddr& ip) {
  QMAIL_ASSIGN_OR_RETURN(Locked l, open_locked(path, false));
  return tcpto_is_down(l.table, ip, now_s(), static_cast<unsigned>(::getpid()));
}

Status tcpto_file_record(const std::string& path, const dns::IpAddr& ip, bool timed_out) {
  QMAIL_ASSIGN_OR_RETURN(Locked l, open_locked(path, true));
  auto before = l.table;
  tcpto_record(l.table, ip, timed_out, now_s());
  if (before == l.table) return Status::ok();
  return write_back(l);
}

Result<std::string> tcpto_file_report(const std::string& path) {
  QMAIL_ASSIGN_OR_RETURN(Locked l, open_locked(path, false));
  std::string out;
  std::int64_t now = now_s();
  for (const auto& e : tcpto_entries(l.table)) {
    out += e.ip.str() + " timed out " + std::to_string(now - e.when) +
           " seconds ago; # recent timeouts: " + std::to_string(e.timeouts) + "\n";
  }
  return out;
}

Status tcpto_file_clear(const std::string& path) {
  QMAIL_ASSIGN_OR_RETURN(Locked l, open_locked(path, true));
  l.table.fill(0);
  return write_back(l);
}

}  // namespace qmail::remote
