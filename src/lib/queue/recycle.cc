#include "queue/recycle.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>

#include "base/strings.h"
#include "fs/fs.h"

namespace qmail::queue {

namespace {

bool has_prefix(const char* name, const char* prefix) {
  return std::strncmp(name, prefix, std::strlen(prefix)) == 0;
}

bool is_free_name(const char* name) {
  return has_prefix(name, kFreePrefix) || has_prefix(name, kFreeEnvelopePrefix);
}

// 31 random bits, different in every call and process (no system call).
std::uint64_t random_position() {
  static std::uint64_t state = 0;
  if (state == 0) {
    struct timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    state = (static_cast<std::uint64_t>(::getpid()) << 32) ^
            static_cast<std::uint64_t>(ts.tv_nsec) ^ (static_cast<std::uint64_t>(ts.tv_sec) << 20);
    state |= 1;
  }
  // xorshift64*
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return (state * 0x2545F4914F6CDD1DULL) >> 33;
}

}  // namespace

FreePool& FreePool::shared(const Layout& q) {
  static std::unique_ptr<FreePool> pool;
  if (!pool || pool->dir_ != q.dir("lock")) pool = std::make_unique<FreePool>(q);
  pool->new_message();
  return *pool;
}

void FreePool::list() {
  may_list_ = false;
  for (int k = 0; k < 2; ++k) {
    names_[k].clear();
    next_[k] = 0;
  }
  // A few names are enough for one run (a pid file and an envelope);
  // more only help when other qmail-queues take the first ones. One
  // small getdents64 call: readdir()'s 32 KB buffer made ext4 list (and
  // hash and sort) the whole pool, up to a thousand names, every time.
  Fd d(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!d.valid()) return;
  alignas(8) char buf[1024];
  // Returns whether the buffer was filled (more names may follow).
  auto read_names = [&]() -> bool {
    ssize_t n = ::getdents64(d.get(), buf, sizeof buf);
    for (ssize_t off = 0; off < n;) {
      auto* e = reinterpret_cast<struct dirent64*>(buf + off);
      if (has_prefix(e->d_name, kFreePrefix))
        names_[0].emplace_back(e->d_name);
      else if (has_prefix(e->d_name, kFreeEnvelopePrefix))
        names_[1].emplace_back(e->d_name);
      off += e->d_reclen;
    }
    return n > static_cast<ssize_t>(sizeof buf / 2);
  };
  // Concurrent qmail-queues listing from the start all see the same first
  // names and race for them (nine renames in ten failed with 20 SMTP
  // sessions). On ext4 a directory position is a name hash (the high 32
  // bits, halved), so a random position starts each listing at its own
  // place in a large pool. A listing that reaches the end of the
  // directory goes on from its beginning (wrapping around: in a small
  // pool the names before the position are all there is; where positions
  // are not hashes, a random one is past the end).
  bool full =
      ::lseek(d.get(), static_cast<off_t>(random_position()) << 32, SEEK_SET) >= 0 && read_names();
  if (!full && ::lseek(d.get(), 0, SEEK_SET) == 0) read_names();
  // Concurrent qmail-queues list the same names in the same order: each
  // starts at its own place (by pid), so fewer renames race and fail.
  for (auto& names : names_) {
    if (names.empty()) continue;
    std::rotate(names.begin(),
                names.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(::getpid()) %
                                                            names.size()),
                names.end());
  }
}

const std::string* FreePool::next(bool envelope) {
  int k = envelope ? 1 : 0;
  if (next_[k] >= names_[k].size() && may_list_) list();
  if (next_[k] < names_[k].size()) return &names_[k][next_[k]++];
  return nullptr;
}

FreePool::Take FreePool::take(const std::string& to, Fd& out) {
  // An envelope file if there is one, else a message file.
  for (;;) {
    const std::string* name = next(true);
    if (name == nullptr) name = next(false);
    if (name == nullptr) break;
    std::string from = dir_ + "/" + *name;
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) != 0) {
      if (errno == EEXIST) return Take::kExists;
      if (errno == ENOENT) continue;  // taken by another qmail-queue
      return Take::kNone;             // EINVAL (no RENAME_NOREPLACE), ...
    }
    int fd = ::open(to.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
      ::unlink(to.c_str());
      return Take::kNone;
    }
    out.reset(fd);
    return Take::kTaken;
  }
  return Take::kNone;
}

FreePool::Take FreePool::take_as_message(const Layout& q, std::uint64_t* id, off_t* size, Fd& out) {
  const std::size_t prefix = std::strlen(kFreePrefix);
  while (const std::string* next_name = next(false)) {
    const std::string& name = *next_name;
    auto ino = str::parse_uint(std::string_view(name).substr(prefix));
    if (!ino) continue;
    std::string from = dir_ + "/" + name, to = q.mess(*ino);
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) != 0) {
      if (errno == ENOENT) continue;  // taken by another qmail-queue
      return Take::kNone;             // EEXIST (cannot be: the inode is free), EINVAL, ...
    }
    int fd = ::open(to.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || ::fstat(fd, &st) != 0 || st.st_ino != *ino) {
      // Not what its name said (nothing of ours names pool files so):
      // away with it, and the caller makes a file as before.
      if (fd >= 0) ::close(fd);
      ::unlink(to.c_str());
      return Take::kNone;
    }
    out.reset(fd);
    *id = *ino;
    *size = st.st_size;
    return Take::kTaken;
  }
  return Take::kNone;
}

std::size_t count_free(const Layout& q) {
  std::size_t n = 0;
  DIR* d = ::opendir(q.dir("lock").c_str());
  if (!d) return 0;
  while (struct dirent* e = ::readdir(d))
    if (is_free_name(e->d_name)) ++n;
  ::closedir(d);
  return n;
}

Status PoolCount::recycle(const Layout& q, const std::string& path, bool empty_first) {
  if (since_ >= kRecount || (count_ >= kMaxFree && since_ >= kRecountAtCap)) {
    count_ = count_free(q);
    since_ = 0;
  }
  ++since_;
  return recycle_or_unlink(q, path, empty_first, &count_);
}

Status recycle_or_unlink(const Layout& q, const std::string& path, bool empty_first,
                         std::size_t* free_count) {
  if (*free_count < kMaxFree) {
    Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    struct stat st;
    if (fd.valid() && ::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 &&
        ::fcntl(fd.get(), F_SETLEASE, F_WRLCK) == 0) {
      // Nobody else has it open (and an opener now would wait for us).
      // Emptied while still under its old name, and only then put where
      // a qmail-queue may take it: emptying it after the rename could
      // truncate a new message that a qmail-queue has just written there.
      bool emptied = !empty_first || st.st_size <= kMaxKeptBytes || ::ftruncate(fd.get(), 0) == 0;
      (void)::fcntl(fd.get(), F_SETLEASE, F_UNLCK);
      std::string to = q.dir("lock") + "/" + (empty_first ? kFreePrefix : kFreeEnvelopePrefix) +
                       std::to_string(st.st_ino);
      if (emptied &&
          ::renameat2(AT_FDCWD, path.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) {
        ++*free_count;
        return Status::ok();
      }
    } else if (!fd.valid() && errno == ENOENT) {
      return Status::ok();
    }
  }
  return fs::unlink(path);
}

}  // namespace qmail::queue
