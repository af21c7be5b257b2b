#include "cdb/reader.h"

#include <cerrno>

#include "fs/fs.h"

namespace qmail::cdb {

Result<std::unique_ptr<Reader>> Reader::open(const std::string& path) {
  auto fd = fs::open_read(path);
  if (!fd.is_ok()) {
    if (fd.status().err() == ENOENT) return std::unique_ptr<Reader>();
    return fd.status();
  }
  std::unique_ptr<Reader> r(new Reader(path));
  if (::cdb_init(&r->db_, fd->get()) != 0) return Status::temp_errno("unable to map " + path);
  r->mapped_ = true;
  r->db_.cdb_fd = -1;  // closed below; find() reads the mapping only
  return r;
}

Reader::~Reader() {
  if (mapped_) ::cdb_free(&db_);
}

Result<std::optional<std::string_view>> Reader::find(std::string_view key) const {
  int r = ::cdb_find(&db_, key.data(), static_cast<unsigned>(key.size()));
  if (r < 0) return Status::temp(path_ + " is corrupt (#4.3.0)");
  if (r == 0) return std::optional<std::string_view>();
  const void* p = cdb_getdata(&db_);
  if (!p) return Status::temp(path_ + " is corrupt (#4.3.0)");
  return std::optional<std::string_view>(
      std::string_view(static_cast<const char*>(p), cdb_datalen(&db_)));
}

Result<bool> Reader::contains(std::string_view key) const {
  QMAIL_ASSIGN_OR_RETURN(auto v, find(key));
  return v.has_value();
}

}  // namespace qmail::cdb
