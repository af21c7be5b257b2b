// The queue's on-disk layout, as qmail keeps it (qmail's INTERNALS):
//
//   queue/pid/<pid>          qmail-queue's scratch file, renamed nowhere:
//                            its inode number becomes the message id
//   queue/mess/<s>/<id>      the message (Received line first)
//   queue/intd/<id>          envelope being written by qmail-queue
//   queue/todo/<id>          link of intd/<id>: the message is committed
//   queue/info/<s>/<id>      "F<sender>\0" written by qmail-send
//   queue/local/<s>/<id>     local recipients, one "T<rcpt>\0" each; 'T'
//   queue/remote/<s>/<id>    becomes 'D' in place when that recipient is done
//   queue/bounce/<id>        accumulated failure reports, for the bounce
//   queue/lock/sendmutex     held by a running qmail-send
//   queue/lock/trigger       named pipe; qmail-queue writes a byte to wake
//                            qmail-send
//   queue/lock/tcpto         qmail-tcpto's table (remote)
//
// <s> is id % kSplit (qmail's conf-split). intd and todo files are
// "u<uid>\0p<pid>\0F<sender>\0T<rcpt>\0...T<rcpt>\0" (recipients in the
// order given to qmail-queue).
#pragma once

#include <cstdint>
#include <string>

namespace qmail::queue {

// qmail's conf-split: the number of subdirectories of mess, info, local,
// remote.
inline constexpr std::uint64_t kSplit = 23;

class Layout {
 public:
  // `queue_dir` is the queue directory itself (normally HOME/queue).
  explicit Layout(std::string queue_dir) : q_(std::move(queue_dir)) {}
  // HOME/queue of the current home (home::dir()).
  static Layout from_home();

  const std::string& root() const { return q_; }
  std::string dir(const char* sub) const { return q_ + "/" + sub; }
  // Split subdirectory `sub`/<id % kSplit>.
  std::string split_dir(const char* sub, std::uint64_t id) const {
    return q_ + "/" + sub + "/" + std::to_string(id % kSplit);
  }
  std::string mess(std::uint64_t id) const { return split_file("mess", id); }
  std::string info(std::uint64_t id) const { return split_file("info", id); }
  std::string local(std::uint64_t id) const { return split_file("local", id); }
  std::string remote(std::uint64_t id) const { return split_file("remote", id); }
  std::string intd(std::uint64_t id) const { return q_ + "/intd/" + std::to_string(id); }
  std::string todo(std::uint64_t id) const { return q_ + "/todo/" + std::to_string(id); }
  std::string bounce(std::uint64_t id) const { return q_ + "/bounce/" + std::to_string(id); }
  std::string pid_file(long pid) const { return q_ + "/pid/" + std::to_string(pid); }
  std::string trigger() const { return q_ + "/lock/trigger"; }
  std::string sendmutex() const { return q_ + "/lock/sendmutex"; }

 private:
  std::string split_file(const char* sub, std::uint64_t id) const {
    return split_dir(sub, id) + "/" + std::to_string(id);
  }
  std::string q_;
};

}  // namespace qmail::queue
