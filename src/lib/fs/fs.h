// File-system operations with durability in mind. Durability is a matter
// of order: write, fsync the file, then link or rename, then fsync the
// directory, and only then acknowledge. Every descriptor is O_CLOEXEC.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "io/fd.h"

namespace qmail::fs {

// open(2) wrappers. Errors are temp with errno (use status.err() to tell
// ENOENT etc. apart).
Result<Fd> open_read(const std::string& path);
Result<Fd> open_excl(const std::string& path, mode_t mode = 0644);    // O_CREAT|O_EXCL|O_WRONLY
Result<Fd> open_append(const std::string& path, mode_t mode = 0600);  // O_CREAT|O_APPEND|O_WRONLY
Result<Fd> open_trunc(const std::string& path, mode_t mode = 0644);
Result<Fd> open_rw(const std::string& path);   // existing file, O_RDWR
Result<Fd> open_dir(const std::string& path);  // O_RDONLY|O_DIRECTORY

Status fsync(int fd);
inline Status fsync(const Fd& fd) { return fsync(fd.get()); }
// fsyncs a directory so that links, renames and unlinks in it are durable.
// (Disabled only by the test switch below, to prove the tests can fail.)
Status fsync_dir(const std::string& path);
// Test-only: when the environment variable QMAIL_TEST_UNSAFE_NO_DIRSYNC is
// set in a process that is neither setuid nor setgid, fsync_dir does
// nothing. The power-cut test uses it to show that it detects the loss.
bool dirsync_disabled();

// Makes several files and directories durable at once. Up to
// kMaxSerialSyncs descriptors: the files' data writeback is started for
// all (sync_file_range), then each is fsynced in turn -- a thread costs
// about 150 us of CPU to create and reap in a short-lived process, more
// than a concurrent fsync of two or three small files saves (measured:
// 3 fsyncs in a fresh process, 350 us of CPU in a row, 700 with two
// threads, no faster). More: every fsync is issued concurrently (up to
// kMaxParallelSyncs threads), because the disk completes concurrent
// flushes far faster than many in a row. Directories honour the test
// switch above. Files get fdatasync: their bytes and what reading them
// needs (size, blocks), not their timestamps -- a queue file rewritten in
// place at the same size (a recycled inode, a recipient list's 'D' mark)
// then costs one write instead of two (its inode-table block). Directories
// get a full fsync: on a journalling filesystem fdatasync of a directory
// need not commit a new entry (ext4 tracks a separate datasync
// transaction that entry changes do not advance). Returns ok when every
// one succeeded, else the first error (all are attempted).
// `named` files get a full fsync (see fsync_covers_new_name).
inline constexpr std::size_t kMaxSerialSyncs = 4;
inline constexpr std::size_t kMaxParallelSyncs = 16;
Status fsync_all(const std::vector<const Fd*>& files, const std::vector<std::string>& dirs,
                 const std::vector<const Fd*>& named = {});

// Whether a full fsync of this open regular file also makes durable the
// directory entry that most recently named it (a create, link or rename
// into a directory), so that the directory needs no fsync of its own.
// True only on ext4, by the ext4 driver's fsync: without a journal it
// writes the parent directory of an inode just added to one
// (ext4_sync_parent); with a journal it commits the transaction that
// holds the new entry, since that transaction also changed the inode.
// Not where fsync of a file is documented to leave its name alone (ext2's
// own driver, and any filesystem we have not read), so false elsewhere.
// Only for a file with one name, opened by that name or renamed while
// open: a stale second name could be the parent that is written. The
// answer per device is read once from /proc/self/mountinfo and kept.
bool fsync_covers_new_name(int fd);

Status link(const std::string& from, const std::string& to);
Status rename(const std::string& from, const std::string& to);
Status unlink(const std::string& path);              // ENOENT is not an error
Status mkdir(const std::string& path, mode_t mode);  // EEXIST is not an error

bool exists(const std::string& path);
Result<struct stat> stat(const std::string& path);
Result<struct stat> lstat(const std::string& path);
// The same file, unchanged: device, inode, size, modification and change
// times (to the nanosecond) all equal. For caches of what a file said.
bool same_file(const struct stat& a, const struct stat& b);
// The same fields as text ("dev:ino:size:mtime:ns:ctime:ns"), for handing
// a file's identity to another process: equal texts, same_file.
std::string file_identity(const struct stat& st);

// Reads a whole file of at most `limit` bytes. Errors: temp with errno
// (ENOENT included: callers that treat absence as normal check err()),
// perm "too long".
Result<std::string> read_file(const std::string& path, std::size_t limit);

// Writes `data` to `path` durably: a temporary file beside it, fsync,
// rename over `path`, fsync the directory.
Status write_file_durable(const std::string& path, std::string_view data, mode_t mode = 0644);

// Names in a directory other than "." and "..", unsorted.
Result<std::vector<std::string>> list_dir(const std::string& path);

// The directory part of a path ("." if none).
std::string dirname(std::string_view path);

}  // namespace qmail::fs
