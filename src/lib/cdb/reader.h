// Reading a cdb file (users/cdb, morercpthosts.cdb, recipients.cdb, tcp
// rules) through tinycdb: the one place that owns the mapping.
#pragma once

#include <cdb.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "io/fd.h"

namespace qmail::cdb {

class Reader {
 public:
  // Opens and maps `path`. Returns nullptr when the file does not exist.
  // The descriptor is closed once the file is mapped (lookups use only
  // the mapping), so a Reader may outlive a close of every descriptor (a
  // reused worker's).
  // Errors: temp when it exists but cannot be opened or mapped.
  static Result<std::unique_ptr<Reader>> open(const std::string& path);
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // The value of the first record with `key`, or nullopt. The view is
  // valid while the Reader lives. Errors: temp "PATH is corrupt".
  Result<std::optional<std::string_view>> find(std::string_view key) const;
  // Is there a record with `key`? Errors as find().
  Result<bool> contains(std::string_view key) const;
  const std::string& path() const { return path_; }

 private:
  explicit Reader(std::string path) : path_(std::move(path)) {}
  std::string path_;
  mutable struct cdb db_ {};
  bool mapped_ = false;
};

}  // namespace qmail::cdb
