#include "queue/recycle.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/clean.h"
#include "queue_testutil.h"

namespace qmail::queue {
namespace {

using namespace qmail::queue::testing;

class Recycle : public TempQueue {
 protected:
  ino_t ino(const std::string& p) {
    struct stat st;
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_ino;
  }
  std::string free_path(ino_t i) { return q_->dir("lock") + "/free." + std::to_string(i); }
  std::string free_env_path(ino_t i) { return q_->dir("lock") + "/free-env." + std::to_string(i); }
};

TEST_F(Recycle, AnUnusedFileGoesToThePoolEmptiedOnlyWhenLarge) {
  std::string p = q_->mess(100);
  spit(p, "message");
  ino_t i = ino(p);
  std::size_t n = 0;
  ASSERT_TRUE(recycle_or_unlink(*q_, p, true, &n).is_ok());
  EXPECT_FALSE(fsys::exists(p));
  EXPECT_EQ(slurp(free_path(i)), "message");  // small: written over later
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(count_free(*q_), 1u);
  std::string big = q_->mess(101);
  spit(big, std::string(static_cast<std::size_t>(kMaxKeptBytes) + 1, 'x'));
  ino_t j = ino(big);
  ASSERT_TRUE(recycle_or_unlink(*q_, big, true, &n).is_ok());
  EXPECT_EQ(slurp(free_path(j)), "");
  EXPECT_EQ(n, 2u);
}

TEST_F(Recycle, ASecondLinkOrAnOpenerMeansUnlink) {
  std::string p = q_->mess(100), other = q_->dir("intd") + "/100";
  spit(p, "message");
  ASSERT_EQ(::link(p.c_str(), other.c_str()), 0);
  std::size_t n = 0;
  ASSERT_TRUE(recycle_or_unlink(*q_, p, true, &n).is_ok());
  EXPECT_FALSE(fsys::exists(p));
  EXPECT_EQ(slurp(other), "message");  // the inode lives on, untouched
  EXPECT_EQ(count_free(*q_), 0u);
  // Held open elsewhere (a delivery program reading it in the background):
  // no write lease, so the inode is not reused and keeps its bytes.
  int reader = ::open(other.c_str(), O_RDONLY);
  ASSERT_GE(reader, 0);
  ASSERT_TRUE(recycle_or_unlink(*q_, other, true, &n).is_ok());
  EXPECT_FALSE(fsys::exists(other));
  EXPECT_EQ(count_free(*q_), 0u);
  char buf[16] = {};
  EXPECT_EQ(::pread(reader, buf, sizeof buf, 0), 7);
  EXPECT_STREQ(buf, "message");
  ::close(reader);
  EXPECT_EQ(n, 0u);
}

TEST_F(Recycle, AFullPoolMeansUnlink) {
  std::string p = q_->mess(100);
  spit(p, "message");
  std::size_t n = kMaxFree;
  ASSERT_TRUE(recycle_or_unlink(*q_, p, true, &n).is_ok());
  EXPECT_FALSE(fsys::exists(p));
  EXPECT_EQ(count_free(*q_), 0u);
  // A missing name is fine.
  n = 0;
  EXPECT_TRUE(recycle_or_unlink(*q_, p, true, &n).is_ok());
}

TEST_F(Recycle, TheCountIsRedoneBeforeTurningAFileAway) {
  // 1000 files in the pool; qmail-clean counts them at its first recycle.
  for (std::size_t i = 0; i < 1000; ++i) spit(free_path(1000000 + i), "");
  PoolCount pc;
  std::uint64_t next = 100;
  auto finish_one = [&] {
    std::string p = q_->mess(next++);
    spit(p, "m");
    ino_t i = ino(p);
    EXPECT_TRUE(pc.recycle(*q_, p, true).is_ok());
    return fsys::exists(free_path(i));
  };
  EXPECT_TRUE(finish_one());
  EXPECT_EQ(pc.estimate(), 1001u);
  // qmail-queues take 200 without telling it.
  for (std::size_t i = 0; i < 200; ++i) ::unlink(free_path(1000000 + i).c_str());
  // 60 more finish: the estimate passes the cap, but the pool (801 + 60)
  // does not; every one goes to the pool, none is freed.
  int kept = 0;
  for (int i = 0; i < 60; ++i) kept += finish_one();
  EXPECT_EQ(kept, 60);
  EXPECT_EQ(count_free(*q_), 861u);
  // Really full (as a new qmail-clean counts it): the next ones are freed.
  for (std::size_t i = 0; i < kMaxFree - 861; ++i) spit(free_path(2000000 + i), "");
  ASSERT_EQ(count_free(*q_), kMaxFree);
  pc = PoolCount();
  kept = 0;
  for (int i = 0; i < 3 * PoolCount::kRecountAtCap; ++i) kept += finish_one();
  EXPECT_EQ(kept, 0);
  EXPECT_EQ(count_free(*q_), kMaxFree);
}

TEST_F(Recycle, TakeMovesAFreeFileForWritingOver) {
  std::string p = q_->mess(100);
  spit(p, "message");
  ino_t i = ino(p);
  std::size_t n = 0;
  ASSERT_TRUE(recycle_or_unlink(*q_, p, true, &n).is_ok());
  spit(free_path(i), "left over");

  std::string to = q_->pid_file(4242);
  FreePool pool(*q_);
  Fd fd;
  ASSERT_EQ(pool.take(to, fd), FreePool::Take::kTaken);
  EXPECT_EQ(ino(to), i);
  EXPECT_EQ(slurp(to), "left over");  // the caller writes over and cuts
  EXPECT_EQ(::write(fd.get(), "new", 3), 3);
  EXPECT_EQ(slurp(to), "newt over");
  EXPECT_EQ(::ftruncate(fd.get(), 3), 0);
  EXPECT_EQ(slurp(to), "new");
  EXPECT_EQ(count_free(*q_), 0u);
  // Nothing left.
  Fd none;
  EXPECT_EQ(pool.take(q_->pid_file(4243), none), FreePool::Take::kNone);
  EXPECT_FALSE(fsys::exists(q_->pid_file(4243)));
}

TEST_F(Recycle, TakeAsMessageNamesTheFileByItsInode) {
  std::string p = q_->mess(100);
  spit(p, "old message");
  ino_t i = ino(p);
  std::size_t n = 0;
  ASSERT_TRUE(recycle_or_unlink(*q_, p, true, &n).is_ok());
  FreePool pool(*q_);
  std::uint64_t id = 0;
  off_t size = -1;
  Fd fd;
  ASSERT_EQ(pool.take_as_message(*q_, &id, &size, fd), FreePool::Take::kTaken);
  EXPECT_EQ(id, static_cast<std::uint64_t>(i));
  EXPECT_EQ(size, 11);
  EXPECT_EQ(ino(q_->mess(id)), i);
  EXPECT_EQ(::write(fd.get(), "new", 3), 3);
  EXPECT_EQ(slurp(q_->mess(id)), "new message");  // the caller cuts it
  EXPECT_EQ(count_free(*q_), 0u);
  Fd none;
  EXPECT_EQ(pool.take_as_message(*q_, &id, &size, none), FreePool::Take::kNone);
}

TEST_F(Recycle, TakeAsMessageDropsAFileNotWhatItsNameSays) {
  // A pool name whose number is not its inode's (nothing of ours makes
  // one): not used as that id.
  std::string bogus = q_->dir("lock") + "/free.7";
  spit(bogus, "x");
  ASSERT_NE(ino(bogus), 7u);
  FreePool pool(*q_);
  std::uint64_t id = 0;
  off_t size = 0;
  Fd fd;
  EXPECT_EQ(pool.take_as_message(*q_, &id, &size, fd), FreePool::Take::kNone);
  EXPECT_FALSE(fsys::exists(q_->mess(7)));
  EXPECT_FALSE(fd.valid());
}

TEST_F(Recycle, TakeNeverReplacesAnExistingName) {
  std::string p = q_->mess(100);
  spit(p, "message");
  ino_t i = ino(p);
  std::size_t n = 0;
  ASSERT_TRUE(recycle_or_unlink(*q_, p, true, &n).is_ok());
  std::string to = q_->intd(7);
  spit(to, "someone else's");
  FreePool pool(*q_);
  Fd fd;
  EXPECT_EQ(pool.take(to, fd), FreePool::Take::kExists);
  EXPECT_EQ(slurp(to), "someone else's");
  EXPECT_TRUE(fsys::exists(free_path(i)));
}

TEST_F(Recycle, EnvelopesAndMessagesAreTakenForTheirOwnRole) {
  // An old envelope is taken for the next envelope before any old
  // message, and never as a message (its blocks would be allocated
  // again); an old message is what the next message takes.
  std::string mess = q_->mess(100), env = q_->intd(101);
  spit(mess, std::string(3000, 'm'));
  spit(env, bytes("u1\0p2\0Fs\0Tr\0"));
  ino_t m = ino(mess), e = ino(env);
  std::size_t n = 0;
  ASSERT_TRUE(recycle_or_unlink(*q_, mess, true, &n).is_ok());
  ASSERT_TRUE(recycle_or_unlink(*q_, env, false, &n).is_ok());
  ASSERT_TRUE(fsys::exists(free_path(m)));
  ASSERT_TRUE(fsys::exists(free_env_path(e)));
  EXPECT_EQ(count_free(*q_), 2u);
  {
    FreePool pool(*q_);
    Fd fd;
    ASSERT_EQ(pool.take(q_->intd(7), fd), FreePool::Take::kTaken);
    EXPECT_EQ(ino(q_->intd(7)), e);
  }
  {
    FreePool pool(*q_);
    std::uint64_t id = 0;
    off_t size = 0;
    Fd fd;
    ASSERT_EQ(pool.take_as_message(*q_, &id, &size, fd), FreePool::Take::kTaken);
    EXPECT_EQ(id, static_cast<std::uint64_t>(m));
    EXPECT_EQ(size, 3000);
  }
  // With only an envelope file left, a message takes nothing.
  std::string env2 = q_->intd(102);
  spit(env2, "e");
  ASSERT_TRUE(recycle_or_unlink(*q_, env2, false, &n).is_ok());
  FreePool pool(*q_);
  std::uint64_t id = 0;
  off_t size = 0;
  Fd fd;
  EXPECT_EQ(pool.take_as_message(*q_, &id, &size, fd), FreePool::Take::kNone);
  EXPECT_EQ(count_free(*q_), 1u);
}

TEST_F(Recycle, ASharedPoolKeepsItsListAndListsAgainWhenItRunsOut) {
  std::size_t n = 0;
  auto recycle_message = [&](std::uint64_t id) {
    spit(q_->mess(id), "m");
    ino_t i = ino(q_->mess(id));
    EXPECT_TRUE(recycle_or_unlink(*q_, q_->mess(id), true, &n).is_ok());
    return i;
  };
  for (std::uint64_t id : {100, 101, 102}) recycle_message(id);
  FreePool& pool = FreePool::shared(*q_);
  EXPECT_EQ(&FreePool::shared(*q_), &pool);  // one per process and queue
  std::uint64_t id = 0;
  off_t size = 0;
  Fd fd;
  ASSERT_EQ(pool.take_as_message(*q_, &id, &size, fd), FreePool::Take::kTaken);
  ASSERT_EQ(count_free(*q_), 2u);
  // Another qmail-queue takes one of the two names this process listed.
  for (const auto& e : fsys::directory_iterator(q_->dir("lock"))) {
    if (e.path().filename().string().rfind("free.", 0) == 0) {
      ASSERT_EQ(::unlink(e.path().c_str()), 0);
      break;
    }
  }
  // The next message still takes the other one from the kept list.
  Fd fd2;
  ASSERT_EQ(FreePool::shared(*q_).take_as_message(*q_, &id, &size, fd2), FreePool::Take::kTaken);
  EXPECT_EQ(count_free(*q_), 0u);
  // The list has run out: a later message lists the pool again and finds
  // what was recycled since.
  ino_t later = recycle_message(103);
  Fd fd3;
  ASSERT_EQ(FreePool::shared(*q_).take_as_message(*q_, &id, &size, fd3), FreePool::Take::kTaken);
  EXPECT_EQ(id, static_cast<std::uint64_t>(later));
  // Once per message: with nothing left, nothing more is listed.
  Fd fd4;
  EXPECT_EQ(pool.take_as_message(*q_, &id, &size, fd4), FreePool::Take::kNone);
}

TEST_F(Recycle, CleanXRecyclesTodoAndMess) {
  std::uint64_t id = 100;
  spit(q_->mess(id), "message");
  spit(q_->intd(id), bytes("u1\0p2\0Fs\0Tr\0"));
  ASSERT_EQ(::link(q_->intd(id).c_str(), q_->todo(id).c_str()), 0);
  ino_t m = ino(q_->mess(id)), e = ino(q_->todo(id));
  ASSERT_TRUE(clean::handle(*q_, "x100").is_ok());
  EXPECT_FALSE(fsys::exists(q_->todo(id)));
  EXPECT_FALSE(fsys::exists(q_->intd(id)));
  EXPECT_FALSE(fsys::exists(q_->mess(id)));
  EXPECT_TRUE(fsys::exists(free_path(m)));
  EXPECT_TRUE(fsys::exists(free_env_path(e)));
}

TEST_F(Recycle, CleanIRecyclesTheEnvelopeAndKeepsTheMessage) {
  std::uint64_t id = 100;
  spit(q_->mess(id), "message");
  spit(q_->intd(id), bytes("u1\0p2\0Fs\0Tr\0"));
  ASSERT_EQ(::link(q_->intd(id).c_str(), q_->todo(id).c_str()), 0);
  ino_t e = ino(q_->todo(id));
  ASSERT_TRUE(clean::handle(*q_, "i100").is_ok());
  EXPECT_FALSE(fsys::exists(q_->todo(id)));
  EXPECT_FALSE(fsys::exists(q_->intd(id)));
  EXPECT_EQ(slurp(q_->mess(id)), "message");
  EXPECT_TRUE(fsys::exists(free_env_path(e)));
  EXPECT_TRUE(clean::handle(*q_, "i100").is_ok());  // again: nothing there
}

}  // namespace
}  // namespace qmail::queue
