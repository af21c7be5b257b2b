#include "spawn/builtin.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "io/fd.h"

namespace qmail::spawn {

namespace {
constexpr off_t kMaxProgram = 64L * 1024 * 1024;
}

bool carries_mark(const std::string& path, std::string_view mark) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return false;
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
      st.st_size > kMaxProgram)
    return false;
  auto size = static_cast<std::size_t>(st.st_size);
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (p == MAP_FAILED) return false;
  bool found = ::memmem(p, size, mark.data(), mark.size()) != nullptr;
  ::munmap(p, size);
  return found;
}

}  // namespace qmail::spawn
