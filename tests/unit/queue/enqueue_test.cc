#include "queue/enqueue.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "base/exit_codes.h"
#include "queue/envelope.h"
#include "queue_testutil.h"

namespace qmail::queue {
namespace {

using namespace qmail::queue::testing;

class Enqueue : public TempQueue {
 protected:
  int run(const std::string& message, const std::string& envelope) {
    EnqueueRequest req;
    req.message_fd = input("msg", message);
    req.envelope_fd = input("env", envelope);
    req.uid = 1234;
    req.pid = 5678;
    req.received = "Received: test\n";
    return enqueue(*q_, req);
  }
  // The single queued message's id (from todo/).
  std::uint64_t only_id() {
    auto files = files_under(tmp_ / "queue" / "todo");
    EXPECT_EQ(files.size(), 1u);
    if (files.empty()) return 0;
    return std::stoull(files[0]);
  }
};

TEST_F(Enqueue, QueuesMessageAndEnvelope) {
  std::string msg = bytes("Subject: x\n\nNUL here:\0 and 8-bit \xff\n");
  ASSERT_EQ(run(msg, bytes("Fs@x\0Ta@y\0Tb@z\0\0")), 0);
  std::uint64_t id = only_id();
  EXPECT_EQ(slurp(q_->mess(id)), "Received: test\n" + msg);
  EXPECT_EQ(slurp(q_->todo(id)), bytes("u1234\0p5678\0Fs@x\0Ta@y\0Tb@z\0"));
  // todo is a second link of intd; the id is the mess file's inode.
  struct stat a, b, m;
  ASSERT_EQ(::stat(q_->todo(id).c_str(), &a), 0);
  ASSERT_EQ(::stat(q_->intd(id).c_str(), &b), 0);
  ASSERT_EQ(::stat(q_->mess(id).c_str(), &m), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_nlink, 2u);
  EXPECT_EQ(m.st_ino, id);
  EXPECT_EQ(m.st_nlink, 1u);  // the pid file is gone
  EXPECT_TRUE(files_under(tmp_ / "queue" / "pid").empty());
  auto parsed = parse_queue_envelope(slurp(q_->todo(id)));
  ASSERT_TRUE(parsed.is_ok());
  EXPECT_EQ(parsed->recipients.size(), 2u);
}

TEST_F(Enqueue, EmptyMessage) {
  ASSERT_EQ(run("", bytes("F\0Ta@b\0\0")), 0);
  EXPECT_EQ(slurp(q_->mess(only_id())), "Received: test\n");
}

TEST_F(Enqueue, TenThousandRecipients) {
  std::string env = bytes("Fs@x\0");
  for (int i = 0; i < 10000; ++i) env += "Tuser" + std::to_string(i) + "@example.test" + '\0';
  env += '\0';
  ASSERT_EQ(run("m\n", env), 0);
  auto parsed = parse_queue_envelope(slurp(q_->todo(only_id())));
  ASSERT_TRUE(parsed.is_ok());
  ASSERT_EQ(parsed->recipients.size(), 10000u);
  EXPECT_EQ(parsed->recipients[9999], "user9999@example.test");
}

TEST_F(Enqueue, BadEnvelopesLeaveNothing) {
  struct Case {
    const char* name;
    std::string env;
    int want;
  };
  std::string too_long(kMaxAddress + 1, 'a');
  const Case cases[] = {
      {"missing F", bytes("Ta@b\0\0"), queue_exit::kEnvelopeFormat},
      // The input ends early: qmail's qmail-queue says 54 (read error).
      {"missing terminator", bytes("Fa@b\0Tc@d\0"), queue_exit::kReadError},
      {"truncated", bytes("Fa@b\0Tc@"), queue_exit::kReadError},
      {"empty", "", queue_exit::kReadError},
      {"bad letter", bytes("Fa\0Xb\0\0"), queue_exit::kEnvelopeFormat},
      {"sender too long", "F" + too_long + bytes("\0\0"), queue_exit::kAddressTooLong},
      {"rcpt too long", bytes("F\0T") + too_long + bytes("\0\0"), queue_exit::kAddressTooLong},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(run("message\n", c.env), c.want) << c.name;
    EXPECT_TRUE(queue_files().empty()) << c.name;
  }
}

TEST_F(Enqueue, MessageReadErrorIs54) {
  EnqueueRequest req;
  int dir = ::open(tmp_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);  // read() fails
  ASSERT_GE(dir, 0);
  fds_.push_back(dir);
  req.message_fd = dir;
  req.envelope_fd = input("env", bytes("F\0\0"));
  req.pid = 1;
  EXPECT_EQ(enqueue(*q_, req), queue_exit::kReadError);
  EXPECT_TRUE(queue_files().empty());
}

TEST_F(Enqueue, EnvelopeReadErrorIs54) {
  EnqueueRequest req;
  int dir = ::open(tmp_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(dir, 0);
  fds_.push_back(dir);
  req.message_fd = input("msg", "m");
  req.envelope_fd = dir;
  req.pid = 1;
  EXPECT_EQ(enqueue(*q_, req), queue_exit::kReadError);
  EXPECT_TRUE(queue_files().empty());
}

TEST_F(Enqueue, MissingQueueIs62) {
  Layout nowhere((tmp_ / "nope").string());
  EnqueueRequest req;
  req.message_fd = input("msg", "m");
  req.envelope_fd = input("env", bytes("F\0\0"));
  EXPECT_EQ(enqueue(nowhere, req), queue_exit::kQueueFiles);
}

TEST_F(Enqueue, MissingTodoDirIs66AndCleansUp) {
  fsys::remove(tmp_ / "queue" / "todo");
  EXPECT_EQ(run("m", bytes("F\0\0")), qq_exit::kTodoDir);
  EXPECT_TRUE(queue_files().empty());
}

TEST_F(Enqueue, MissingPidDirIs63) {
  fsys::remove(tmp_ / "queue" / "pid");
  EXPECT_EQ(run("m", bytes("F\0\0")), qq_exit::kPidDir);
  EXPECT_TRUE(queue_files().empty());
}

TEST_F(Enqueue, StalePidFileIsReplaced) {
  spit(q_->pid_file(5678), "stale");
  ASSERT_EQ(run("m", bytes("F\0\0")), 0);
  EXPECT_TRUE(files_under(tmp_ / "queue" / "pid").empty());
}

TEST(Date822, Formats) {
  EXPECT_EQ(date822(1795307445), "22 Nov 2026 00:30:45 -0000");
  EXPECT_EQ(date822(0), "1 Jan 1970 00:00:00 -0000");
}

TEST(ReceivedLine, Variants) {
  home::Ids ids{};
  ids.alias = 7790;
  ids.qmaild = 7791;
  ids.qmails = 7796;
  ids.qmailq = 7795;
  ids.single_user = false;
  const std::time_t t = 1795307445;
  EXPECT_EQ(received_line(12, 7790, &ids, t),
            "Received: (qmail 12 invoked by alias); 22 Nov 2026 00:30:45 -0000\n");
  EXPECT_EQ(received_line(12, 7791, &ids, t),
            "Received: (qmail 12 invoked from network); 22 Nov 2026 00:30:45 -0000\n");
  EXPECT_EQ(received_line(12, 7796, &ids, t),
            "Received: (qmail 12 invoked for bounce); 22 Nov 2026 00:30:45 -0000\n");
  EXPECT_EQ(received_line(12, 1000, &ids, t),
            "Received: (qmail 12 invoked by uid 1000); 22 Nov 2026 00:30:45 -0000\n");
  EXPECT_EQ(received_line(12, 7790, nullptr, t),
            "Received: (qmail 12 invoked by uid 7790); 22 Nov 2026 00:30:45 -0000\n");
  ids.single_user = true;
  EXPECT_EQ(received_line(12, 7790, &ids, t),
            "Received: (qmail 12 invoked by uid 7790); 22 Nov 2026 00:30:45 -0000\n");
}

}  // namespace
}  // namespace qmail::queue
