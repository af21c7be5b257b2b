#include "queue/qread.h"

#include <gtest/gtest.h>
#include <utime.h>

#include "queue_testutil.h"

namespace qmail::queue {
namespace {

using namespace qmail::queue::testing;

class QRead : public TempQueue {
 protected:
  void set_time(const std::string& path, std::time_t t) {
    struct utimbuf ub {
      t, t
    };
    ASSERT_EQ(::utime(path.c_str(), &ub), 0);
  }
};

TEST_F(QRead, ShowsPreprocessedAndTodoMessages) {
  // #50: preprocessed, one local done, one remote pending, bouncing.
  spit(q_->mess(50), "0123456789");
  spit(q_->info(50), bytes("Fsender@example.test\0"));
  set_time(q_->info(50), 1795307445);
  spit(q_->local(50), bytes("Dme@here\0"));
  spit(q_->remote(50), bytes("Tyou@there\0Tbad\x01name@x\0"));
  spit(q_->bounce(50), "");
  // #60: still in todo, queued earlier.
  spit(q_->mess(60), "abc");
  spit(q_->intd(60), bytes("u1\0p2\0F\0Ta@b\0"));
  ASSERT_EQ(::link(q_->intd(60).c_str(), q_->todo(60).c_str()), 0);
  set_time(q_->todo(60), 1795307400);
  // #70: info but the mess file vanished (finished during the scan).
  spit(q_->info(70), bytes("Fx\0"));

  auto scan = scan_queue(*q_);
  ASSERT_TRUE(scan.is_ok()) << scan.status().message();
  EXPECT_TRUE(scan->warnings.empty());
  ASSERT_EQ(scan->messages.size(), 2u);
  EXPECT_EQ(format_qread(scan->messages[0]),
            "22 Nov 2026 00:30:00 GMT  #60  3  <>  preprocessing\n"
            "\ttodo\ta@b\n");
  EXPECT_EQ(format_qread(scan->messages[1]),
            "22 Nov 2026 00:30:45 GMT  #50  10  <sender@example.test>  bouncing\n"
            "  done\tlocal\tme@here\n"
            "\tremote\tyou@there\n"
            "\tremote\tbad_name@x\n");
}

TEST_F(QRead, CountsLikeQmailQstat) {
  spit(q_->mess(1), "");
  spit(q_->mess(24), "");
  spit(q_->mess(5), "");
  spit(q_->todo(5), "");
  auto c = count_queue(*q_);
  ASSERT_TRUE(c.is_ok());
  EXPECT_EQ(format_qstat(*c),
            "messages in queue: 3\nmessages in queue but not yet preprocessed: 1\n");
}

TEST_F(QRead, EmptyQueue) {
  auto scan = scan_queue(*q_);
  ASSERT_TRUE(scan.is_ok());
  EXPECT_TRUE(scan->messages.empty());
  auto c = count_queue(*q_);
  ASSERT_TRUE(c.is_ok());
  EXPECT_EQ(c->messages, 0u);
  EXPECT_EQ(c->todo, 0u);
}

TEST_F(QRead, MissingQueueIsAnError) {
  Layout nowhere((tmp_ / "nope").string());
  EXPECT_FALSE(scan_queue(nowhere).is_ok());
  EXPECT_FALSE(count_queue(nowhere).is_ok());
}

}  // namespace
}  // namespace qmail::queue
