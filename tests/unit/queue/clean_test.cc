#include "queue/clean.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include "io/io.h"
#include "queue_testutil.h"

namespace qmail::queue {
namespace {

using namespace qmail::queue::testing;

class Clean : public TempQueue {
 protected:
  // A committed message: mess, intd and todo (a link of intd).
  void committed(std::uint64_t id) {
    spit(q_->mess(id), "message");
    spit(q_->intd(id), bytes("u1\0p2\0Fs\0Tr\0"));
    ASSERT_EQ(::link(q_->intd(id).c_str(), q_->todo(id).c_str()), 0);
  }
  void age(const std::string& path, std::time_t seconds) {
    std::time_t t = std::time(nullptr) - seconds;
    struct utimbuf ub {
      t, t
    };
    ASSERT_EQ(::utime(path.c_str(), &ub), 0) << path;
  }
  bool exists(const std::string& p) { return fsys::exists(p); }
};

TEST_F(Clean, XRemovesAllOfTheMessage) {
  committed(100);
  ASSERT_TRUE(clean::handle(*q_, "x100").is_ok());
  EXPECT_TRUE(queue_files().empty());
  // Missing files are fine.
  EXPECT_TRUE(clean::handle(*q_, "x100").is_ok());
  EXPECT_TRUE(clean::handle(*q_, "x99999").is_ok());
}

TEST_F(Clean, IRemovesIntdAndTodoOnly) {
  committed(101);
  ASSERT_TRUE(clean::handle(*q_, "i101").is_ok());
  EXPECT_EQ(queue_files(), std::vector<std::string>{"mess/9/101"});
  EXPECT_TRUE(clean::handle(*q_, "i101").is_ok());
}

TEST_F(Clean, MalformedRequestsArePerm) {
  for (std::string_view bad : {"", "x", "i", "y5", "x12a", "x-1", "x 1"}) {
    Status s = clean::handle(*q_, bad);
    EXPECT_FALSE(s.is_ok()) << bad;
    EXPECT_TRUE(s.is_perm()) << bad;
  }
}

TEST_F(Clean, FailureIsTemp) {
  committed(102);
  // A directory where the mess file should be: unlink fails with EISDIR.
  fsys::remove(q_->mess(102));
  fsys::create_directory(q_->mess(102));
  fsys::create_directory(q_->mess(102) + "/x");
  Status s = clean::handle(*q_, "x102");
  EXPECT_TRUE(s.is_temp()) << s.message();
}

TEST_F(Clean, SweepRemovesOnlyOldDebris) {
  // Old pid file, young pid file.
  spit(q_->pid_file(11), "");
  age(q_->pid_file(11), clean::kOssified + 100);
  spit(q_->pid_file(12), "");
  // Old unfinished message (intd with one link, and its mess file): the
  // intd file goes, the mess file is qmail-send's to judge (it may have
  // taken the message before a crash brought intd back).
  spit(q_->intd(200), "u1\0");
  spit(q_->mess(200), "partial");
  age(q_->intd(200), clean::kOssified + 100);
  // Old unfinished message whose mess file never came.
  spit(q_->intd(201), "");
  age(q_->intd(201), clean::kOssified + 100);
  // Young unfinished message: a qmail-queue may still be at work.
  spit(q_->intd(202), "");
  spit(q_->mess(202), "in progress");
  // Old committed message: never touched.
  committed(203);
  age(q_->intd(203), clean::kOssified + 100);
  age(q_->mess(203), clean::kOssified + 100);

  auto r = clean::sweep(*q_, std::time(nullptr));
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->pid_files, 1);
  EXPECT_EQ(r->intd_files, 2);
  EXPECT_FALSE(exists(q_->pid_file(11)));
  EXPECT_TRUE(exists(q_->pid_file(12)));
  EXPECT_FALSE(exists(q_->intd(200)));
  EXPECT_TRUE(exists(q_->mess(200)));
  EXPECT_FALSE(exists(q_->intd(201)));
  EXPECT_TRUE(exists(q_->intd(202)));
  EXPECT_TRUE(exists(q_->mess(202)));
  EXPECT_TRUE(exists(q_->intd(203)));
  EXPECT_TRUE(exists(q_->todo(203)));
  EXPECT_TRUE(exists(q_->mess(203)));
}

TEST_F(Clean, IRemovalOfTodoIsSyncedInTheBatch) {
  committed(400);
  std::set<std::string> to_sync;
  ASSERT_TRUE(clean::handle(*q_, "i400", &to_sync).is_ok());
  EXPECT_EQ(to_sync, std::set<std::string>{q_->dir("todo")});
  // Nothing removed, nothing to sync.
  to_sync.clear();
  ASSERT_TRUE(clean::handle(*q_, "i400", &to_sync).is_ok());
  ASSERT_TRUE(clean::handle(*q_, "x400", &to_sync).is_ok());
  EXPECT_TRUE(to_sync.empty());
}

TEST_F(Clean, ServeAnswersEachRequestAndExitsAtEof) {
  committed(300);
  committed(301);
  int in[2], out[2];
  ASSERT_EQ(::pipe(in), 0);
  ASSERT_EQ(::pipe(out), 0);
  std::string reqs = bytes("i300\0x301\0bogus\0x300\0");
  reqs += std::string(200, '9');  // overlong request
  reqs += '\0';
  reqs += bytes("x1");
  reqs += '\0';
  ASSERT_TRUE(io::write_all(in[1], reqs).is_ok());
  ::close(in[1]);
  Status s = clean::serve(*q_, in[0], out[1]);
  EXPECT_TRUE(s.is_ok()) << s.message();
  ::close(in[0]);
  ::close(out[1]);
  auto replies = io::read_all(out[0], 100);
  ::close(out[0]);
  ASSERT_TRUE(replies.is_ok());
  EXPECT_EQ(*replies, "++!+!+");
  EXPECT_TRUE(queue_files().empty());
}

}  // namespace
}  // namespace qmail::queue
