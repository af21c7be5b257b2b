// Fuzzes qmail-queue's side of the channel of a reused caller
// (queue/serve.h): the records arrive from any local user, to a setuid
// program. Input: records, each a 2-byte little-endian length and that
// many bytes (cut at the end of the input). After serve() returns, the
// queue must hold only whole messages: a todo/ and a mess/ file for each
// intd/ file, nothing in pid/.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "base/check.h"
#include "queue/layout.h"
#include "queue/make_queue.h"
#include "queue/serve.h"

namespace {

namespace fsys = std::filesystem;

const qmail::queue::Layout& queue() {
  static const qmail::queue::Layout q = [] {
    std::string tmpl = (fsys::exists("/dev/shm") ? "/dev/shm" : "/tmp");
    tmpl += "/queue-serve-fuzz-XXXXXX";
    QMAIL_CHECK(::mkdtemp(tmpl.data()) != nullptr);
    qmail::queue::Layout l(tmpl + "/queue");
    QMAIL_CHECK(qmail::queue::make_queue(l, ::getuid(), ::getgid(), false).is_ok());
    return l;
  }();
  return q;
}

std::size_t count_and_clear(const fsys::path& dir) {
  std::size_t n = 0;
  for (auto& e : fsys::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    ++n;
    fsys::remove(e.path());
  }
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& q = queue();
  int sv[2];
  QMAIL_CHECK(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
  std::size_t at = 0;
  while (at + 2 <= size) {
    std::size_t len = data[at] | (static_cast<std::size_t>(data[at + 1]) << 8);
    at += 2;
    if (len > size - at) len = size - at;
    // A full socket buffer ends the input there.
    if (::send(sv[0], data + at, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) break;
    at += len;
  }
  ::close(sv[0]);
  int rc = qmail::queue::serve(sv[1], q, nullptr);
  ::close(sv[1]);
  QMAIL_CHECK(rc == 0 || rc == 11 || rc == 51 || rc == 54 || rc == 91);
  fsys::path root(q.root());
  std::size_t intd = count_and_clear(root / "intd");
  std::size_t todo = count_and_clear(root / "todo");
  std::size_t mess = count_and_clear(root / "mess");
  std::size_t pid = count_and_clear(root / "pid");
  QMAIL_CHECK(intd == todo && mess == todo && pid == 0);
  ::alarm(0);
  return 0;
}
