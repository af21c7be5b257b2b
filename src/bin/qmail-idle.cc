// qmail-idle: holds a resting daemon's place until its descriptor 0 has
// something to read, then runs the daemon again (qmail-idle(8)). Kept to
// libc alone: its whole point is to be small.
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <initializer_list>

namespace {

void say(const char* a, const char* b = "", const char* c = "", const char* d = "") {
  for (const char* s : {"qmail-idle: ", a, b, c, d, "\n"}) {
    if (::write(2, s, ::strlen(s)) < 0) return;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argv[1][0] != '/') {
    say("usage: qmail-idle /path/to/program [ arg ... ]");
    return 100;
  }
  // Named after the program it stands for (ps, pgrep and the like).
  const char* name = ::strrchr(argv[1], '/') + 1;
  (void)::prctl(PR_SET_NAME, name);
  for (;;) {
    pollfd p{0, POLLIN, 0};
    int n = ::poll(&p, 1, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      say("unable to poll descriptor 0: ", ::strerror(errno));
      return 111;
    }
    // Its writer gone and nothing left to read: the daemon would only
    // have exited too.
    if (!(p.revents & POLLIN) && (p.revents & POLLHUP)) return 0;
    break;
  }
  // The program gets our argv[0] (its own name, as its caller gave it
  // to us) and the rest of our arguments.
  const char* program = argv[1];
  argv[1] = argv[0];
  ::execv(program, argv + 1);
  argv[1] = const_cast<char*>(program);
  say("unable to run ", argv[1], ": ", ::strerror(errno));
  return 111;
}
