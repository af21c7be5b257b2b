#include "fs/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <thread>
#include <utility>

#include "io/io.h"

namespace qmail::fs {

namespace {
Result<Fd> do_open(const std::string& path, int flags, mode_t mode, const char* what) {
  for (;;) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    if (fd >= 0) return Fd(fd);
    if (errno == EINTR) continue;
    return Status::temp_errno(std::string(what) + " " + path);
  }
}
}  // namespace

Result<Fd> open_read(const std::string& path) {
  return do_open(path, O_RDONLY, 0, "unable to open");
}
Result<Fd> open_excl(const std::string& path, mode_t mode) {
  return do_open(path, O_WRONLY | O_CREAT | O_EXCL, mode, "unable to create");
}
Result<Fd> open_append(const std::string& path, mode_t mode) {
  return do_open(path, O_WRONLY | O_CREAT | O_APPEND, mode, "unable to open");
}
Result<Fd> open_trunc(const std::string& path, mode_t mode) {
  return do_open(path, O_WRONLY | O_CREAT | O_TRUNC, mode, "unable to open");
}
Result<Fd> open_rw(const std::string& path) { return do_open(path, O_RDWR, 0, "unable to open"); }
Result<Fd> open_dir(const std::string& path) {
  return do_open(path, O_RDONLY | O_DIRECTORY, 0, "unable to open directory");
}

Status fsync(int fd) {
  if (::fsync(fd) != 0) return Status::temp_errno("fsync");
  return Status::ok();
}

bool dirsync_disabled() {
  static const bool disabled = ::getuid() == ::geteuid() && ::getgid() == ::getegid() &&
                               std::getenv("QMAIL_TEST_UNSAFE_NO_DIRSYNC") != nullptr;
  return disabled;
}

Status fsync_dir(const std::string& path) {
  if (dirsync_disabled()) return Status::ok();
  QMAIL_ASSIGN_OR_RETURN(Fd fd, open_dir(path));
  if (::fsync(fd.get()) != 0) return Status::temp_errno("fsync directory " + path);
  return Status::ok();
}

namespace {

// A file's bytes (fdatasync), or a directory's entries (fsync; see fs.h).
int sync_one(int fd, bool file) { return file ? ::fdatasync(fd) : ::fsync(fd); }

}  // namespace

Status fsync_all(const std::vector<const Fd*>& files, const std::vector<std::string>& dirs,
                 const std::vector<const Fd*>& named) {
  std::vector<Fd> dir_fds;
  Status first = Status::ok();
  if (!dirsync_disabled()) {
    for (const auto& d : dirs) {
      auto fd = open_dir(d);
      if (!fd.is_ok()) {
        if (first.is_ok()) first = fd.status();
        continue;
      }
      dir_fds.push_back(std::move(*fd));
    }
  }
  // Files (fdatasync) first, then the rest (fsync): named files and
  // directories.
  std::vector<int> fds;
  for (const Fd* f : files) fds.push_back(f->get());
  for (const Fd* f : named) fds.push_back(f->get());
  for (const Fd& f : dir_fds) fds.push_back(f.get());
  if (fds.empty()) return first;

  if (fds.size() <= kMaxSerialSyncs) {
    // Few: the files' data writeback is started for all of them first,
    // so it runs concurrently, then each is fsynced in turn. Threads would
    // cost more than they save here (see fs.h).
    for (std::size_t i = 0; i < files.size() + named.size(); ++i)
      (void)::sync_file_range(fds[i], 0, 0, SYNC_FILE_RANGE_WRITE);
    for (std::size_t i = 0; i < fds.size(); ++i)
      if (sync_one(fds[i], i < files.size()) != 0 && first.is_ok())
        first = Status::temp_errno("fsync");
    return first;
  }

  std::atomic<std::size_t> next{0};
  std::atomic<int> failed_errno{0};
  auto worker = [&] {
    for (std::size_t i; (i = next++) < fds.size();)
      if (sync_one(fds[i], i < files.size()) != 0) {
        int zero = 0;
        failed_errno.compare_exchange_strong(zero, errno);
      }
  };
  std::vector<std::thread> threads;
  std::size_t extra = std::min(fds.size(), kMaxParallelSyncs) - 1;
  for (std::size_t i = 0; i < extra; ++i) {
    try {
      threads.emplace_back(worker);
    } catch (...) {
      break;  // fewer threads: the others take more each
    }
  }
  worker();
  for (auto& t : threads) t.join();
  if (first.is_ok() && failed_errno != 0) first = Status::temp_errno("fsync", failed_errno.load());
  return first;
}

namespace {

// The filesystem type /proc/self/mountinfo gives for device `dev` ("" when
// not found). Fields: id parent major:minor root mountpoint options
// [optional fields] - type source super-options.
std::string mount_type(dev_t dev) {
  auto text = read_file("/proc/self/mountinfo", 1 << 20);
  if (!text.is_ok()) return "";
  std::string want = std::to_string(major(dev)) + ":" + std::to_string(minor(dev));
  std::string_view rest(*text);
  while (!rest.empty()) {
    std::size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    // The third field.
    std::size_t a = line.find(' ');
    std::size_t b = a == std::string_view::npos ? a : line.find(' ', a + 1);
    std::size_t c = b == std::string_view::npos ? b : line.find(' ', b + 1);
    if (c == std::string_view::npos || line.substr(b + 1, c - b - 1) != want) continue;
    std::size_t dash = line.find(" - ");
    if (dash == std::string_view::npos) continue;
    std::string_view type = line.substr(dash + 3);
    return std::string(type.substr(0, type.find(' ')));
  }
  return "";
}

}  // namespace

bool fsync_covers_new_name(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) return false;
  // The mount's type names the driver (statfs's magic number is the same
  // for ext2's own driver and ext4's); asked once per device.
  static std::vector<std::pair<dev_t, bool>> known;
  for (const auto& [dev, yes] : known)
    if (dev == st.st_dev) return yes;
  bool yes = mount_type(st.st_dev) == "ext4";
  if (known.size() < 16) known.emplace_back(st.st_dev, yes);
  return yes;
}

Status link(const std::string& from, const std::string& to) {
  if (::link(from.c_str(), to.c_str()) != 0)
    return Status::temp_errno("unable to link " + from + " to " + to);
  return Status::ok();
}

Status rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0)
    return Status::temp_errno("unable to rename " + from + " to " + to);
  return Status::ok();
}

Status unlink(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return Status::temp_errno("unable to unlink " + path);
  return Status::ok();
}

Status mkdir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST)
    return Status::temp_errno("unable to create directory " + path);
  return Status::ok();
}

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

Result<struct stat> stat(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::temp_errno("unable to stat " + path);
  return st;
}

bool same_file(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_size == b.st_size &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec &&
         a.st_ctim.tv_sec == b.st_ctim.tv_sec && a.st_ctim.tv_nsec == b.st_ctim.tv_nsec;
}

std::string file_identity(const struct stat& st) {
  std::string t;
  for (auto v :
       {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
        static_cast<std::uint64_t>(st.st_size), static_cast<std::uint64_t>(st.st_mtim.tv_sec),
        static_cast<std::uint64_t>(st.st_mtim.tv_nsec),
        static_cast<std::uint64_t>(st.st_ctim.tv_sec),
        static_cast<std::uint64_t>(st.st_ctim.tv_nsec)}) {
    if (!t.empty()) t += ':';
    t += std::to_string(v);
  }
  return t;
}

Result<struct stat> lstat(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return Status::temp_errno("unable to stat " + path);
  return st;
}

Result<std::string> read_file(const std::string& path, std::size_t limit) {
  QMAIL_ASSIGN_OR_RETURN(Fd fd, open_read(path));
  auto r = io::read_all(fd.get(), limit);
  if (!r.is_ok()) {
    if (r.status().is_perm()) return Status::perm(path + " is too long");
    return Status::temp(path + ": " + r.status().message());
  }
  return r;
}

std::string dirname(std::string_view path) {
  auto pos = path.rfind('/');
  if (pos == std::string_view::npos) return ".";
  if (pos == 0) return "/";
  return std::string(path.substr(0, pos));
}

Status write_file_durable(const std::string& path, std::string_view data, mode_t mode) {
  std::string tmp = path + ".tmp" + std::to_string(::getpid());
  {
    QMAIL_ASSIGN_OR_RETURN(Fd fd,
                           do_open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode, "unable to create"));
    Status s = io::write_all(fd.get(), data);
    if (s.is_ok()) s = fsync(fd);
    if (!s.is_ok()) {
      (void)unlink(tmp);
      return s;
    }
  }
  // Crash before the rename leaves only the temporary file; after it, the
  // new content is complete because it was fsynced first.
  Status s = rename(tmp, path);
  if (!s.is_ok()) {
    (void)unlink(tmp);
    return s;
  }
  return fsync_dir(dirname(path));
}

Result<std::vector<std::string>> list_dir(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (!d) return Status::temp_errno("unable to read directory " + path);
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n(e->d_name);
    if (n != "." && n != "..") names.emplace_back(n);
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) return Status::temp_errno("unable to read directory " + path, err);
  return names;
}

}  // namespace qmail::fs
