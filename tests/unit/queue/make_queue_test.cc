#include "queue/make_queue.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue_testutil.h"

namespace qmail::queue {
namespace {

using namespace qmail::queue::testing;

mode_t mode_of(const std::string& p) {
  struct stat st;
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st.st_mode;
}

TEST_F(TempQueue, MakeQueueCreatesTheTree) {
  const Layout& q = *q_;
  EXPECT_EQ(mode_of(q.root()), S_IFDIR | 0750);
  EXPECT_EQ(mode_of(q.dir("pid")), S_IFDIR | 0700);
  EXPECT_EQ(mode_of(q.dir("intd")), S_IFDIR | 0700);
  EXPECT_EQ(mode_of(q.dir("todo")), S_IFDIR | 0750);
  EXPECT_EQ(mode_of(q.dir("bounce")), S_IFDIR | 0700);
  EXPECT_EQ(mode_of(q.dir("lock")), S_IFDIR | 0750);
  for (std::uint64_t i = 0; i < kSplit; ++i) {
    EXPECT_EQ(mode_of(q.split_dir("mess", i)), S_IFDIR | 0750);
    EXPECT_EQ(mode_of(q.split_dir("info", i)), S_IFDIR | 0700);
    EXPECT_EQ(mode_of(q.split_dir("local", i)), S_IFDIR | 0700);
    EXPECT_EQ(mode_of(q.split_dir("remote", i)), S_IFDIR | 0700);
  }
  EXPECT_FALSE(fsys::exists(q.dir("mess/23")));
  EXPECT_EQ(mode_of(q.trigger()), S_IFIFO | 0622);
  EXPECT_EQ(mode_of(q.sendmutex()), S_IFREG | 0600);
  EXPECT_EQ(mode_of(q.dir("lock/tcpto")), S_IFREG | 0644);
  EXPECT_EQ(slurp(q.dir("lock/tcpto")), std::string(1024, '\0'));
  EXPECT_EQ(slurp(q.sendmutex()), "");
}

TEST_F(TempQueue, MakeQueueIsIdempotentAndKeepsData) {
  const Layout& q = *q_;
  spit(q.mess(5), "message");
  spit(q.dir("lock/tcpto"), "table");
  ::chmod(q.dir("todo").c_str(), 0700);
  Status s = make_queue(q, ::getuid(), ::getgid(), false);
  ASSERT_TRUE(s.is_ok()) << s.message();
  EXPECT_EQ(slurp(q.mess(5)), "message");
  EXPECT_EQ(slurp(q.dir("lock/tcpto")), "table");
  EXPECT_EQ(mode_of(q.dir("todo")), S_IFDIR | 0750);  // repaired
}

TEST_F(TempQueue, MakeQueueRefusesAWrongTrigger) {
  const Layout& q = *q_;
  fsys::remove(q.trigger());
  spit(q.trigger(), "not a fifo");
  EXPECT_FALSE(make_queue(q, ::getuid(), ::getgid(), false).is_ok());
  EXPECT_EQ(slurp(q.trigger()), "not a fifo");  // never removed
}

TEST_F(TempQueue, MakeQueueRootModeOwners) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  Layout q((tmp_ / "rootq").string());
  QueueOwners o{7001, 7002, 7003, 7004};
  ASSERT_TRUE(make_queue(q, o, true).is_ok());
  auto owner = [](const std::string& p) {
    struct stat st;
    EXPECT_EQ(::lstat(p.c_str(), &st), 0);
    return std::pair<uid_t, gid_t>(st.st_uid, st.st_gid);
  };
  using P = std::pair<uid_t, gid_t>;
  EXPECT_EQ(owner(q.root()), P(7001, 7004));
  EXPECT_EQ(owner(q.dir("todo")), P(7001, 7004));
  EXPECT_EQ(owner(q.split_dir("mess", 3)), P(7001, 7004));
  EXPECT_EQ(owner(q.split_dir("info", 3)), P(7002, 7004));
  EXPECT_EQ(owner(q.dir("bounce")), P(7002, 7004));
  EXPECT_EQ(owner(q.trigger()), P(7002, 7004));
  EXPECT_EQ(owner(q.sendmutex()), P(7002, 7004));
  EXPECT_EQ(owner(q.dir("lock/tcpto")), P(7003, 7004));
  EXPECT_EQ(owner(q.dir("lock")), P(7001, 7004));
}

}  // namespace
}  // namespace qmail::queue
