// Fuzzes qmail-newrcpt's handling of what users and admins control: the
// names of .qmail files in a home (rcptdb::extensions, add_entry) and the
// lines of control/recipients (rcptdb::parse_extra).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/check.h"
#include "base/strings.h"
#include "rcptdb/rcptdb.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> files;
  for (std::string_view line : qmail::str::split(s, '\n')) files.emplace_back(line);
  auto exts = qmail::rcptdb::extensions(files, "-");
  std::set<std::string> ext_set(exts.begin(), exts.end());
  qmail::rcptdb::Names names;
  qmail::rcptdb::add_entry(names, "", true, "", ext_set);
  qmail::rcptdb::add_entry(names, "fred-", true, "box-", ext_set);
  qmail::rcptdb::add_entry(names, "joe", false, files.empty() ? "" : files[0], ext_set);
  for (const auto& w : names.wild) QMAIL_CHECK(w.empty() || w.back() == '-');
  std::set<std::string> keys;
  qmail::rcptdb::add_domain_keys(keys, names, "example.test", "");
  qmail::rcptdb::add_domain_keys(keys, names, "virt.test", "fred");
  for (const auto& k : keys) QMAIL_CHECK(k.find('@') != std::string::npos);
  std::vector<std::size_t> bad;
  for (const auto& k : qmail::rcptdb::parse_extra(s, {"example.test"}, &bad)) {
    QMAIL_CHECK(!k.empty() && k.size() <= qmail::rcptdb::kMaxAddress + 20);
    for (char c : k) QMAIL_CHECK(static_cast<unsigned char>(c) > ' ');
  }
  return 0;
}
