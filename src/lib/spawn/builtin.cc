#include "spawn/builtin.h"

#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "base/env.h"
#include "fs/fs.h"
#include "io/fd.h"

namespace qmail::spawn {

namespace {

bool read_at(int fd, void* buf, std::size_t n, off_t at) {
  ssize_t got = ::pread(fd, buf, n, at);
  return got == static_cast<ssize_t>(n);
}

bool scan(int fd, const struct stat& st, std::string_view mark) {
  constexpr off_t kMaxScan = 16L * 1024 * 1024;
  if (st.st_size <= 0 || st.st_size > kMaxScan) return false;
  auto size = static_cast<std::size_t>(st.st_size);
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) return false;
  bool found = ::memmem(p, size, mark.data(), mark.size()) != nullptr;
  ::munmap(p, size);
  return found;
}

}  // namespace

// The mark lives in its own ELF section (kSection), so the check reads the
// ELF header, the section headers and two small sections: a few pread
// calls, cheap enough for every qmail-queue run.
bool carries_mark(const std::string& path, std::string_view mark) {
  constexpr std::string_view kSection = QMAIL_BUILTIN_SECTION;
  constexpr std::size_t kMaxSections = 4096;
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return false;
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  Elf64_Ehdr eh;
  if (!read_at(fd.get(), &eh, sizeof eh, 0) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_shentsize != sizeof(Elf64_Shdr) ||
      eh.e_shnum == 0 || eh.e_shnum > kMaxSections || eh.e_shstrndx >= eh.e_shnum)
    return false;
  std::vector<Elf64_Shdr> sh(eh.e_shnum);
  if (!read_at(fd.get(), sh.data(), sh.size() * sizeof(Elf64_Shdr), static_cast<off_t>(eh.e_shoff)))
    return false;
  const Elf64_Shdr& names = sh[eh.e_shstrndx];
  if (names.sh_size == 0 || names.sh_size > 1 << 20) return false;
  std::string strtab(names.sh_size, '\0');
  if (!read_at(fd.get(), strtab.data(), strtab.size(), static_cast<off_t>(names.sh_offset)))
    return false;
  for (const Elf64_Shdr& s : sh) {
    if (s.sh_name >= strtab.size()) continue;
    if (std::string_view(strtab.c_str() + s.sh_name) != kSection) continue;
    if (s.sh_type == SHT_NOBITS || s.sh_size < mark.size() || s.sh_size > 4096) return false;
    std::string data(s.sh_size, '\0');
    if (!read_at(fd.get(), data.data(), data.size(), static_cast<off_t>(s.sh_offset))) return false;
    return data.find(mark) != std::string::npos;
  }
  // No such section: a mark kept as a plain array (older builds) is
  // searched for in the whole file.
  return scan(fd.get(), st, mark);
}

std::string mark_token(const std::string& path, std::string_view mark) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !carries_mark(path, mark)) return "";
  return fs::file_identity(st);
}

bool token_names_file(const std::string& path, const char* token) {
  struct stat st;
  return token && *token && ::stat(path.c_str(), &st) == 0 && fs::file_identity(st) == token;
}

void reset_signals_as_exec() {
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction old;
    if (::sigaction(sig, nullptr, &old) != 0) continue;
    if (old.sa_handler == SIG_IGN || old.sa_handler == SIG_DFL) continue;
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    (void)::sigaction(sig, &dfl, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  (void)::sigprocmask(SIG_SETMASK, &none, nullptr);
}

std::string find_program(const std::string& name) {
  if (name.empty()) return "";
  if (name.find('/') != std::string::npos) return name;
  const char* path = ::getenv("PATH");
  std::string_view dirs = path ? path : "/bin:/usr/bin";
  while (true) {
    std::size_t colon = dirs.find(':');
    std::string dir(dirs.substr(0, colon));
    std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
    struct stat st;
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    if (colon == std::string_view::npos) return "";
    dirs.remove_prefix(colon + 1);
  }
}

// The signals whose actions any of our programs' code sets (workers run
// only our own code); each sigaction is a system call, per use of a
// worker.
constexpr int kWorkerSignals[] = {SIGHUP,  SIGINT, SIGQUIT, SIGPIPE, SIGALRM, SIGTERM,
                                  SIGCHLD, SIGIO,  SIGUSR1, SIGUSR2, SIGXFSZ, SIGURG};

WorkerState::WorkerState(int keep) : keep_{keep}, actions_{} {
  static_assert(std::size(kWorkerSignals) == kSignals);
  for (char** e = environ; e && *e; ++e) env_.emplace_back(*e);
  for (std::string& e : env_) env_ptrs_.push_back(e.data());
  env_ptrs_.push_back(nullptr);
  // (getcwd's own allocation, not a page of stack the worker keeps.)
  char* cwd = ::getcwd(nullptr, 0);
  cwd_ = cwd ? cwd : "/";
  std::free(cwd);
  umask_ = ::umask(022);
  ::umask(umask_);
  ::sigprocmask(SIG_SETMASK, nullptr, &mask_);
  for (std::size_t i = 0; i < kSignals; ++i) ::sigaction(kWorkerSignals[i], nullptr, &actions_[i]);
}

void WorkerState::keep_too(int fd) {
  if (fd < 0) return;
  keep_.insert(std::upper_bound(keep_.begin(), keep_.end(), fd), fd);
}

bool WorkerState::restore() {
  ::alarm(0);
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0 || ::dup2(null, 0) != 0 || ::dup2(null, 1) != 1) return false;
  // Everything from 3 on but the kept ones.
  unsigned from = 3;
  for (int k : keep_) {
    if (k < 3) continue;
    if (static_cast<unsigned>(k) > from) ::close_range(from, static_cast<unsigned>(k) - 1, 0);
    from = static_cast<unsigned>(k) + 1;
  }
  ::close_range(from, ~0U, 0);
  env::restore(env_ptrs_);
  ::umask(umask_);
  for (std::size_t i = 0; i < kSignals; ++i) ::sigaction(kWorkerSignals[i], &actions_[i], nullptr);
  ::sigprocmask(SIG_SETMASK, &mask_, nullptr);
  return ::chdir(cwd_.c_str()) == 0;
}

}  // namespace qmail::spawn
