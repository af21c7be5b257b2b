// Benchmark injector: runs a program COUNT times, one after another, each
// with MSGFILE on its standard input, and moves each child into the cgroup
// whose cgroup.procs is given before it execs, so the child's CPU time is
// charged to the system under test while this loop's is not. Built and run
// by bench/local-inject; not part of the mail system.
//
//   inject CGROUP_PROCS COUNT MSGFILE PROGRAM [ARG...]
//
// Exits 0 when every run exited 0, else 1 after the first failure.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

namespace {

bool join_cgroup(const char* procs) {
  int fd = ::open(procs, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  std::string pid = std::to_string(::getpid());
  bool ok = ::write(fd, pid.data(), pid.size()) == static_cast<ssize_t>(pid.size());
  ::close(fd);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: inject CGROUP_PROCS COUNT MSGFILE PROGRAM [ARG...]\n");
    return 100;
  }
  const char* procs = argv[1];
  std::string_view count_text(argv[2]);
  long count = 0;
  auto [end, ec] = std::from_chars(count_text.data(), count_text.data() + count_text.size(), count);
  if (ec != std::errc() || end != count_text.data() + count_text.size() || count < 0) {
    std::fprintf(stderr, "inject: bad count\n");
    return 100;
  }
  int msg = ::open(argv[3], O_RDONLY | O_CLOEXEC);
  if (msg < 0) {
    std::perror("inject: open message");
    return 111;
  }
  for (long i = 0; i < count; ++i) {
    pid_t pid = ::fork();
    if (pid < 0) {
      std::perror("inject: fork");
      return 1;
    }
    if (pid == 0) {
      if (!join_cgroup(procs)) _exit(121);
      if (::lseek(msg, 0, SEEK_SET) != 0 || ::dup2(msg, 0) != 0) _exit(122);
      ::execv(argv[4], argv + 4);
      _exit(123);
    }
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "inject: run %ld: %s exited with status %d\n", i, argv[4], status);
      return 1;
    }
  }
  return 0;
}
