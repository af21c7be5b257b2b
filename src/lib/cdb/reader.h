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
  Reader(std::string path, Fd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  std::string path_;
  Fd fd_;
  mutable struct cdb db_ {};
  bool mapped_ = false;
};

}  // namespace qmail::cdb
