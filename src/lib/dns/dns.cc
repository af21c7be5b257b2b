#include "dns/dns.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unbound.h>

#include <cstring>

#include "base/strings.h"

namespace qmail::dns {

std::string IpAddr::str() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (!inet_ntop(family, bytes.data(), buf, sizeof buf)) return "?";
  return buf;
}

std::optional<IpAddr> IpAddr::parse(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  char buf[INET6_ADDRSTRLEN] = {};
  std::memcpy(buf, text.data(), text.size());
  IpAddr ip;
  if (inet_pton(AF_INET, buf, ip.bytes.data()) == 1) {
    ip.family = AF_INET;
    return ip;
  }
  if (inet_pton(AF_INET6, buf, ip.bytes.data()) == 1) {
    ip.family = AF_INET6;
    return ip;
  }
  return std::nullopt;
}

IpAddr IpAddr::v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  IpAddr ip;
  ip.family = AF_INET;
  ip.bytes[0] = a;
  ip.bytes[1] = b;
  ip.bytes[2] = c;
  ip.bytes[3] = d;
  return ip;
}

std::optional<std::string> parse_name(std::string_view wire, std::size_t* used) {
  std::string out;
  std::size_t pos = 0, total = 1;
  for (;;) {
    if (pos >= wire.size()) return std::nullopt;
    auto len = static_cast<std::uint8_t>(wire[pos++]);
    if (len == 0) break;
    // Compression pointers (and the reserved 01/10 label types) never
    // appear in decompressed rdata.
    if (len > kMaxLabel) return std::nullopt;
    total += len + 1;
    if (total > kMaxName || wire.size() - pos < len) return std::nullopt;
    if (!out.empty()) out += '.';
    for (std::size_t i = 0; i < len; ++i) {
      char c = wire[pos + i];
      auto u = static_cast<unsigned char>(c);
      if (c == '.' || u <= ' ' || u == 127) return std::nullopt;
      out += str::lower(c);
    }
    pos += len;
  }
  if (used) *used = pos;
  return out;
}

std::optional<Mx> parse_mx_rdata(std::string_view rdata) {
  if (rdata.size() < 3) return std::nullopt;
  Mx mx;
  mx.pref = static_cast<std::uint16_t>((static_cast<std::uint8_t>(rdata[0]) << 8) |
                                       static_cast<std::uint8_t>(rdata[1]));
  std::size_t used = 0;
  auto name = parse_name(rdata.substr(2), &used);
  if (!name || used != rdata.size() - 2) return std::nullopt;
  mx.host = std::move(*name);
  return mx;
}

std::optional<IpAddr> parse_a_rdata(std::string_view rdata) {
  if (rdata.size() != 4) return std::nullopt;
  IpAddr ip;
  ip.family = AF_INET;
  std::memcpy(ip.bytes.data(), rdata.data(), 4);
  return ip;
}

std::optional<IpAddr> parse_aaaa_rdata(std::string_view rdata) {
  if (rdata.size() != 16) return std::nullopt;
  IpAddr ip;
  ip.family = AF_INET6;
  std::memcpy(ip.bytes.data(), rdata.data(), 16);
  return ip;
}

std::optional<std::string> parse_txt_rdata(std::string_view rdata) {
  if (rdata.empty()) return std::nullopt;
  std::string out;
  std::size_t pos = 0;
  while (pos < rdata.size()) {
    std::size_t len = static_cast<std::uint8_t>(rdata[pos++]);
    if (rdata.size() - pos < len) return std::nullopt;
    out.append(rdata.substr(pos, len));
    pos += len;
  }
  return out;
}

std::string reverse_name(const IpAddr& ip, std::string_view zone) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  if (ip.family == AF_INET) {
    for (int i = 3; i >= 0; --i) out += std::to_string(ip.bytes[static_cast<std::size_t>(i)]) + ".";
  } else {
    for (int i = 15; i >= 0; --i) {
      std::uint8_t b = ip.bytes[static_cast<std::size_t>(i)];
      out += kHex[b & 0xf];
      out += '.';
      out += kHex[b >> 4];
      out += '.';
    }
  }
  out += zone;
  return out;
}

namespace {

// RFC 1035 3.2.2 types.
constexpr int kTypeA = 1, kTypePtr = 12, kTypeTxt = 16, kTypeMx = 15, kTypeAaaa = 28;
constexpr int kClassIn = 1;
// RFC 1035 4.1.1 rcodes.
constexpr int kRcodeNxdomain = 3;

// libunbound's functions, from dlopen (load_library()).
struct Unbound {
  decltype(&::ub_ctx_create) ctx_create;
  decltype(&::ub_ctx_delete) ctx_delete;
  decltype(&::ub_ctx_set_option) ctx_set_option;
  decltype(&::ub_ctx_resolvconf) ctx_resolvconf;
  decltype(&::ub_ctx_set_fwd) ctx_set_fwd;
  decltype(&::ub_ctx_zone_remove) ctx_zone_remove;
  decltype(&::ub_resolve) resolve;
  decltype(&::ub_resolve_free) resolve_free;
  decltype(&::ub_strerror) strerror;
};
Unbound g_ub;

template <typename F>
bool find(void* lib, const char* name, F* out) {
  *out = reinterpret_cast<F>(::dlsym(lib, name));
  return *out != nullptr;
}

struct ResultFree {
  void operator()(ub_result* r) const { g_ub.resolve_free(r); }
};
using UbResult = std::unique_ptr<ub_result, ResultFree>;

}  // namespace

Status load_library() {
  static bool loaded = false;
  if (loaded) return Status::ok();
  // RTLD_NOW: a missing symbol is found here, not in the middle of a
  // delivery. The library stays loaded for the life of the process.
  void* lib = ::dlopen(QMAIL_UNBOUND_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* why = ::dlerror();
    return Status::temp(std::string("resolver: cannot load ") + QMAIL_UNBOUND_SONAME + ": " +
                        (why ? why : "?"));
  }
  Unbound u;
  if (!find(lib, "ub_ctx_create", &u.ctx_create) || !find(lib, "ub_ctx_delete", &u.ctx_delete) ||
      !find(lib, "ub_ctx_set_option", &u.ctx_set_option) ||
      !find(lib, "ub_ctx_resolvconf", &u.ctx_resolvconf) ||
      !find(lib, "ub_ctx_set_fwd", &u.ctx_set_fwd) ||
      !find(lib, "ub_ctx_zone_remove", &u.ctx_zone_remove) ||
      !find(lib, "ub_resolve", &u.resolve) || !find(lib, "ub_resolve_free", &u.resolve_free) ||
      !find(lib, "ub_strerror", &u.strerror)) {
    ::dlclose(lib);
    return Status::temp(std::string("resolver: ") + QMAIL_UNBOUND_SONAME + " lacks a function");
  }
  g_ub = u;
  loaded = true;
  return Status::ok();
}

struct Resolver::Impl {
  ub_ctx* ctx = nullptr;
  ~Impl() {
    if (ctx) g_ub.ctx_delete(ctx);
  }

  // rdata strings of `type` for `name`; nullopt-free: errors are Status.
  Result<std::vector<std::string>> query(std::string_view name, int type) {
    if (name.empty() || name.size() > kMaxName || name.find('\0') != std::string_view::npos)
      return Status::perm("bad host name");
    std::string qname(name);
    ub_result* raw = nullptr;
    int err = g_ub.resolve(ctx, qname.c_str(), type, kClassIn, &raw);
    UbResult res(raw);
    if (err != 0) return Status::temp(std::string("resolver: ") + g_ub.strerror(err));
    if (res->nxdomain || res->rcode == kRcodeNxdomain) return Status::perm("no such domain");
    if (res->rcode != 0) return Status::temp("DNS server failure");
    // A validating resolver marks forged answers bogus: never use them.
    if (res->bogus) return Status::temp("DNSSEC validation failed");
    std::vector<std::string> out;
    if (!res->havedata) return out;
    for (int i = 0; res->data[i]; ++i)
      out.emplace_back(res->data[i], static_cast<std::size_t>(res->len[i]));
    return out;
  }
};

Resolver::Resolver(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Resolver::~Resolver() = default;

Result<std::unique_ptr<Resolver>> Resolver::create(const std::vector<std::string>& forwarders) {
  QMAIL_RETURN_IF_ERROR(load_library());
  auto impl = std::make_unique<Impl>();
  impl->ctx = g_ub.ctx_create();
  if (!impl->ctx) return Status::temp("resolver: cannot create libunbound context");
  // Forwarders on the loopback (a local cache, a test server) are normal.
  g_ub.ctx_set_option(impl->ctx, "do-not-query-localhost:", "no");
  if (forwarders.empty()) {
    int err = g_ub.ctx_resolvconf(impl->ctx, nullptr);
    // No resolv.conf: resolve from the root servers.
    if (err != 0 && err != UB_READFILE)
      return Status::temp(std::string("resolver: resolv.conf: ") + g_ub.strerror(err));
  } else {
    for (const auto& f : forwarders) {
      int err = g_ub.ctx_set_fwd(impl->ctx, f.c_str());
      if (err != 0) return Status::temp("resolver: bad forwarder " + f + ": " + g_ub.strerror(err));
    }
  }
  return std::unique_ptr<Resolver>(new Resolver(std::move(impl)));
}

Result<std::vector<Mx>> Resolver::mx(std::string_view name) {
  QMAIL_ASSIGN_OR_RETURN(auto rdatas, impl_->query(name, kTypeMx));
  std::vector<Mx> out;
  for (const auto& r : rdatas)
    if (auto m = parse_mx_rdata(r)) out.push_back(std::move(*m));
  return out;
}

Result<std::vector<std::string>> Resolver::txt(std::string_view name) {
  QMAIL_ASSIGN_OR_RETURN(auto rdatas, impl_->query(name, kTypeTxt));
  std::vector<std::string> out;
  for (const auto& r : rdatas)
    if (auto t = parse_txt_rdata(r)) out.push_back(std::move(*t));
  return out;
}

Result<std::vector<IpAddr>> Resolver::a(std::string_view name) {
  QMAIL_ASSIGN_OR_RETURN(auto rdatas, impl_->query(name, kTypeA));
  std::vector<IpAddr> out;
  for (const auto& r : rdatas)
    if (auto ip = parse_a_rdata(r)) out.push_back(*ip);
  return out;
}

Result<std::vector<std::string>> Resolver::ptr(const IpAddr& ip) {
  std::string name = reverse_name(ip, ip.family == AF_INET ? "in-addr.arpa" : "ip6.arpa");
  QMAIL_ASSIGN_OR_RETURN(auto rdatas, impl_->query(name, kTypePtr));
  std::vector<std::string> out;
  for (const auto& r : rdatas) {
    std::size_t used = 0;
    auto host = parse_name(r, &used);
    if (host && used == r.size() && !host->empty()) out.push_back(std::move(*host));
  }
  return out;
}

Status Resolver::drop_local_zone(std::string_view zone) {
  std::string z(zone);
  int err = g_ub.ctx_zone_remove(impl_->ctx, z.c_str());
  // UB_NOID: there was no such zone, which is what we want.
  if (err != 0 && err != UB_NOID)
    return Status::temp("resolver: cannot drop local zone " + z + ": " + g_ub.strerror(err));
  return Status::ok();
}

Result<std::vector<IpAddr>> Resolver::ip(std::string_view name) {
  auto six = impl_->query(name, kTypeAaaa);
  auto four = impl_->query(name, kTypeA);
  std::vector<IpAddr> out;
  if (six.is_ok())
    for (const auto& r : *six)
      if (auto a = parse_aaaa_rdata(r)) out.push_back(*a);
  if (four.is_ok())
    for (const auto& r : *four)
      if (auto a = parse_a_rdata(r)) out.push_back(*a);
  if (!out.empty()) return out;
  if (!four.is_ok()) return four.status();
  if (!six.is_ok()) return six.status();
  return out;
}

}  // namespace qmail::dns
