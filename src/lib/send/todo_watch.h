// qmail-send's watch on todo/ (inotify). A poke of lock/trigger used to
// make qmail-send list todo/, which holds every direct message until it
// is done (up to kMaxDirect names): a listing per new message, O(n) each.
// With the watch, the names a link() or rename() puts into todo/ come as
// events, and a poke costs a read of them. qmail-queue links todo/<id>
// only once the message and its envelope are complete and on disk, so an
// event's message is ready. When the kernel's event queue overflows, or
// there is no inotify, qmail-send lists todo/ as before; the periodic
// rescan stays as it was.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/fd.h"

namespace qmail::send {

class TodoWatch {
 public:
  // Starts watching `dir`; false (and no watch) if inotify cannot.
  bool start(const std::string& dir);
  bool active() const { return fd_.valid(); }
  // For poll(); -1 without a watch.
  int fd() const { return fd_.get(); }
  // Appends the ids of the names seen since the last call. Returns false
  // when events were lost (the queue overflowed, or a read failed): the
  // caller then lists the directory.
  bool take(std::vector<std::uint64_t>* ids);

 private:
  Fd fd_;
};

}  // namespace qmail::send
