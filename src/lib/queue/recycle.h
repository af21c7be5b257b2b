// Recycled queue inodes. On a filesystem without a journal (ext2, ext4
// with ^has_journal -- this project's test and benchmark machines), ext4
// skips every inode freed in the last 60 to 360 seconds when it looks for
// a free one, reading its inode-table block each time: with a busy queue
// a plain create cost 300-850 us of CPU here (against 55 us to rename,
// truncate and write an existing file), and two creates per message were
// a fifth of all CPU in the local-injection benchmark.
//
// So a finished message's mess and envelope (todo) inodes are not freed:
// qmail-clean moves them to queue/lock/free.<ino> (emptied), and
// qmail-queue takes one from there instead of creating a file. lock/ is
// on the queue's filesystem and owned by qmailq like pid/; qmail's layout
// gives the files there no meaning, so what looks at the message
// directories (qmail-qstat, qmail-qread; mess/, todo/, intd/, pid/) sees
// nothing new. The pool is capped at kMaxFree empty files.
//
// Why it is safe:
// - A pool file has exactly one name and no other opener (qmail-clean
//   checks both: one link, and a write lease, which the kernel grants only
//   when nobody else has the file open -- a delivery program left running
//   in the background with the message on its stdin keeps its inode out
//   of the pool). Its inode number is therefore free to be a new message
//   id, as a fresh file's would be.
// - qmail-queue takes a file with renameat2(RENAME_NOREPLACE), writes
//   over the old bytes from the start and, before its fsync, truncates
//   the file to what it wrote; of two qmail-queues racing for one file,
//   one gets ENOENT and tries the next. Writing over the old blocks
//   instead of truncating first spares ext4 freeing them and allocating
//   them again (a truncating open was 5% of all samples in the SMTP-in
//   benchmark, session 5).
// - qmail-clean empties a finished mess file larger than kMaxKeptBytes
//   under its old name, while it holds the lease, and only then renames
//   it into the pool: emptied after the rename, it could be a new message
//   a qmail-queue has just written. Smaller ones, and todo files (a crash
//   could leave an empty todo/<id> behind), keep their old bytes until a
//   qmail-queue writes over them: at most kMaxFree * kMaxKeptBytes of
//   disk, in files only the queue's owner can read, as the messages were. The lease is released
//   before the rename, so a qmail-queue opening the file never breaks it; qmail-clean ignores
//   SIGIO, the lease-break signal, in case someone else opens the file meanwhile.
// - Nothing here is fsynced: a rename is atomic, so after a crash the
//   file has its old name or its new one. An old name that comes back is
//   a lost removal, as with unlink (qmail-send finishes the message again).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/status.h"
#include "io/fd.h"
#include "queue/layout.h"

namespace qmail::queue {

// Two kinds, by the role the file had: a message (with its data blocks,
// taken for the next message) and an envelope (small, taken for the next
// envelope). Kept apart, a file is written over at about its old size:
// an old message cut to an envelope's few bytes freed its blocks, and the
// next message written into an old envelope allocated them again.
inline constexpr const char* kFreePrefix = "free.";
inline constexpr const char* kFreeEnvelopePrefix = "free-env.";
// qmail-clean keeps at most about this many files in the pool.
inline constexpr std::size_t kMaxFree = 1024;
// A finished mess file up to this size goes to the pool as it is.
inline constexpr off_t kMaxKeptBytes = 64 * 1024;

// qmail-queue's side: free files to take. The pool is listed when first
// needed, and again at most once per message (new_message()) when the
// names of the kind wanted run out: a process that queues many messages
// (a reused qmail-smtpd worker) keeps what it listed for the next ones,
// names another qmail-queue took meanwhile cost a failed rename each.
// Listing lock/ for every message was 3-4% of all CPU under SMTP load
// (getdents64 hashes and sorts a directory block, and close frees that).
class FreePool {
 public:
  explicit FreePool(const Layout& q) : dir_(q.dir("lock")) {}
  // This process's pool for `q`, kept across messages; new_message() done.
  static FreePool& shared(const Layout& q);
  // A new message may list the pool again once.
  void new_message() { may_list_ = true; }
  enum class Take { kTaken, kNone, kExists };
  // Moves a free file to `to` and opens it for writing into `out`, NOT
  // truncated: the caller writes from the start and truncates the file
  // to what it wrote. kNone: no free file (or trouble): create one instead. kExists:
  // `to` exists already.
  Take take(const std::string& to, Fd& out);
  // A free file straight to its message name: its name says its inode
  // number, which is the id, so the pid-file step is not needed (one
  // rename instead of a rename, a link and an unlink). On kTaken, `*id`
  // is the id, `*size` the file's old size and `out` the file, open for
  // writing (not truncated); otherwise nothing was taken.
  Take take_as_message(const Layout& q, std::uint64_t* id, off_t* size, Fd& out);

 private:
  void list();
  // The next listed name of `kind` (a prefix above) not yet tried, or
  // null.
  const std::string* next(bool envelope);
  std::string dir_;
  bool may_list_ = true;
  std::vector<std::string> names_[2];  // [0] messages, [1] envelopes
  std::size_t next_[2] = {0, 0};
};

// qmail-clean's side: removes the name `path`, keeping the inode in the
// pool when it may be reused (regular file, one link, nobody has it open,
// the pool is not full), emptied first if `empty_first` (a message: its
// pool name is kFreePrefix; else an envelope, kFreeEnvelopePrefix). `free_count` is
// the caller's estimate of the pool size, updated here. Errors: temp when
// the name could not be removed.
Status recycle_or_unlink(const Layout& q, const std::string& path, bool empty_first,
                         std::size_t* free_count);

// The number of files in the pool now.
std::size_t count_free(const Layout& q);

// qmail-clean's running idea of the pool's size, for recycle_or_unlink:
// counted at first use and again every kRecount recycles, because
// qmail-queue takes files without telling. Between counts the estimate
// only grows, so before it turns a file away as over the cap it is
// counted again (at most every kRecountAtCap recycles). Without that, a
// pool of 800 files reached the cap in the estimate within 224 recycles
// and the rest of each 256 were unlinked: under SMTP load about a hundred
// inodes freed a second, and on ext4 without a journal every create near
// them (qmail-local's Maildir files) then scanned past each one freed in
// the last 30 seconds (3% of all CPU).
class PoolCount {
 public:
  static constexpr int kRecount = 256;
  static constexpr int kRecountAtCap = 16;
  Status recycle(const Layout& q, const std::string& path, bool empty_first);
  std::size_t estimate() const { return count_; }

 private:
  std::size_t count_ = 0;
  int since_ = kRecount;  // recycles since the last count
};

}  // namespace qmail::queue
