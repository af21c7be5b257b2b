#include "queue/serve.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "base/exit_codes.h"
#include "queue/envelope.h"
#include "queue_testutil.h"

namespace qmail::queue {
namespace {

using testing::bytes;
using testing::files_under;
using testing::slurp;

// serve() in a child process (it arms SIGALRM and may exit), on one end
// of a socket pair; the test speaks for the caller on the other.
class ServeTest : public testing::TempQueue {
 protected:
  void SetUp() override {
    TempQueue::SetUp();
    ::signal(SIGPIPE, SIG_IGN);
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    pid_ = ::fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      ::close(sv[0]);
      ::_exit(serve(sv[1], *q_, nullptr));
    }
    ::close(sv[1]);
    fd_ = sv[0];
  }
  void TearDown() override {
    if (fd_ >= 0) ::close(fd_);
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    TempQueue::TearDown();
  }

  void record(char type, const std::string& data) {
    std::string r(1, type);
    r += data;
    ASSERT_EQ(::send(fd_, r.data(), r.size(), MSG_NOSIGNAL), static_cast<ssize_t>(r.size()));
  }
  // The answer for a message: its code, or -1 on a hang-up.
  int answer() {
    unsigned char c;
    ssize_t n = ::recv(fd_, &c, 1, 0);
    return n == 1 ? c : -1;
  }
  // Hangs up and returns the server's exit code.
  int hang_up() {
    ::close(fd_);
    fd_ = -1;
    int wstat = 0;
    EXPECT_EQ(::waitpid(pid_, &wstat, 0), pid_);
    pid_ = -1;
    EXPECT_TRUE(WIFEXITED(wstat));
    return WEXITSTATUS(wstat);
  }
  std::vector<std::string> in(const std::string& sub) {
    std::vector<std::string> out;
    for (auto& f : files_under(tmp_ / "queue" / sub)) out.push_back(sub + "/" + f);
    return out;
  }
  pid_t pid_ = -1;
  int fd_ = -1;
};

TEST_F(ServeTest, QueuesMessageAfterMessageAsOneProcess) {
  const pid_t server = pid_;
  record(kServeMessage, "Subject: one\n\nfirst\n");
  record(kServeEnvelope, bytes("Fa@b\0Tc@d\0\0"));
  EXPECT_EQ(answer(), 0);
  record(kServeMessage, "Subject: two\n");
  record(kServeMessage, "\nsecond\n");
  record(kServeEnvelope, bytes("F\0Te@f\0Tg@h\0\0"));
  EXPECT_EQ(answer(), 0);
  EXPECT_EQ(hang_up(), 0);

  auto todo = in("todo");
  ASSERT_EQ(todo.size(), 2u);
  std::vector<std::string> messages, envelopes;
  for (const auto& t : todo) {
    std::string id = t.substr(t.rfind('/') + 1);
    envelopes.push_back(slurp(tmp_ / "queue" / t));
    for (const auto& m : in("mess"))
      if (m.substr(m.rfind('/') + 1) == id) messages.push_back(slurp(tmp_ / "queue" / m));
  }
  ASSERT_EQ(messages.size(), 2u);
  std::sort(messages.begin(), messages.end(), [](const std::string& a, const std::string& b) {
    return a.find("first") != std::string::npos && b.find("first") == std::string::npos;
  });
  // Both carry the one server's pid, the caller's (our) uid.
  std::string head = "Received: (qmail " + std::to_string(server) + " invoked by uid " +
                     std::to_string(::getuid()) + "); ";
  EXPECT_EQ(messages[0].rfind(head, 0), 0u) << messages[0];
  EXPECT_EQ(messages[1].rfind(head, 0), 0u) << messages[1];
  EXPECT_NE(messages[0].find("\nSubject: one\n\nfirst\n"), std::string::npos);
  EXPECT_NE(messages[1].find("\nSubject: two\n\nsecond\n"), std::string::npos);
  std::string u =
      "u" + std::to_string(::getuid()) + bytes("\0") + "p" + std::to_string(server) + bytes("\0");
  std::sort(envelopes.begin(), envelopes.end());
  EXPECT_EQ(envelopes[0], u + bytes("F\0Te@f\0Tg@h\0"));
  EXPECT_EQ(envelopes[1], u + bytes("Fa@b\0Tc@d\0"));
  EXPECT_TRUE(in("intd").size() == 2u);
}

TEST_F(ServeTest, AnEnvelopeMaySpanRecords) {
  record(kServeMessage, "x\n");
  record(kServeEnvelope, bytes("Fa@"));
  record(kServeEnvelope, bytes("b\0Tc"));
  record(kServeEnvelope, bytes("@d\0\0"));
  EXPECT_EQ(answer(), 0);
  auto todo = in("todo");
  ASSERT_EQ(todo.size(), 1u);
  std::string env = slurp(tmp_ / "queue" / todo[0]);
  EXPECT_NE(env.find(bytes("Fa@b\0Tc@d\0")), std::string::npos);
}

TEST_F(ServeTest, AnEmptyMessageIsAllowed) {
  record(kServeEnvelope, bytes("F\0Tc@d\0\0"));
  EXPECT_EQ(answer(), 0);
  EXPECT_EQ(in("todo").size(), 1u);
}

TEST_F(ServeTest, AbortForgetsTheMessageAndTheServerGoesOn) {
  record(kServeMessage, "abandoned\n");
  record(kServeAbort, "");
  record(kServeMessage, "kept\n");
  record(kServeEnvelope, bytes("Fa@b\0Tc@d\0\0"));
  EXPECT_EQ(answer(), 0);
  EXPECT_EQ(hang_up(), 0);
  auto mess = in("mess");
  ASSERT_EQ(mess.size(), 1u);
  std::string m = slurp(tmp_ / "queue" / mess[0]);
  EXPECT_NE(m.find("kept\n"), std::string::npos);
  EXPECT_EQ(in("intd").size(), 1u);
  EXPECT_EQ(in("pid").size(), 0u);
}

TEST_F(ServeTest, HangUpInsideAMessageQueuesNothing) {
  record(kServeMessage, "half a message\n");
  EXPECT_EQ(hang_up(), queue_exit::kReadError);
  EXPECT_TRUE(queue_files().empty()) << ::testing::PrintToString(queue_files());
}

TEST_F(ServeTest, HangUpInsideAnEnvelopeQueuesNothing) {
  record(kServeMessage, "m\n");
  record(kServeEnvelope, bytes("Fa@b\0Tc@"));
  EXPECT_EQ(hang_up(), queue_exit::kReadError);
  EXPECT_TRUE(queue_files().empty()) << ::testing::PrintToString(queue_files());
}

TEST_F(ServeTest, AnOversizedRecordIsAReadErrorAndEndsTheServer) {
  record(kServeMessage, "m\n");
  record(kServeMessage, std::string(kServeRecord + 1, 'x'));
  EXPECT_EQ(answer(), queue_exit::kReadError);
  EXPECT_EQ(hang_up(), queue_exit::kReadError);
  EXPECT_TRUE(queue_files().empty()) << ::testing::PrintToString(queue_files());
}

TEST_F(ServeTest, ARecordOfTheLargestSizeIsTaken) {
  record(kServeMessage, std::string(kServeRecord, 'x'));
  record(kServeEnvelope, bytes("Fa@b\0Tc@d\0\0"));
  EXPECT_EQ(answer(), 0);
}

TEST_F(ServeTest, AnUnknownRecordIsAReadError) {
  record(kServeMessage, "m\n");
  record('X', "what");
  EXPECT_EQ(answer(), queue_exit::kReadError);
  EXPECT_EQ(hang_up(), queue_exit::kReadError);
  EXPECT_TRUE(queue_files().empty());
}

TEST_F(ServeTest, ABadEnvelopeIsAnsweredAndEndsTheServer) {
  record(kServeMessage, "m\n");
  record(kServeEnvelope, bytes("Xa@b\0\0"));
  EXPECT_EQ(answer(), queue_exit::kEnvelopeFormat);
  EXPECT_EQ(hang_up(), queue_exit::kEnvelopeFormat);
  EXPECT_TRUE(queue_files().empty());
}

TEST_F(ServeTest, ATooLongAddressIs11) {
  record(kServeMessage, "m\n");
  record(kServeEnvelope,
         "Fa@b" + bytes("\0") + "T" + std::string(kMaxAddress + 1, 'r') + bytes("\0\0"));
  EXPECT_EQ(answer(), queue_exit::kAddressTooLong);
  EXPECT_EQ(hang_up(), queue_exit::kAddressTooLong);
}

TEST(ServeChannel, OnlyAUnixSeqpacketSocketIsOne) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  EXPECT_TRUE(is_serve_channel(sv[0]));
  ::close(sv[0]);
  ::close(sv[1]);
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  EXPECT_FALSE(is_serve_channel(sv[0]));
  ::close(sv[0]);
  ::close(sv[1]);
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  EXPECT_FALSE(is_serve_channel(p[0]));
  ::close(p[0]);
  ::close(p[1]);
}

// The caller's side, with the qmail-queue program built beside this test
// (not set-id: it serves as us), in a home of its own.
class QueueServerTest : public testing::TempQueue {
 protected:
  void SetUp() override {
    TempQueue::SetUp();
    ::signal(SIGPIPE, SIG_IGN);
    char exe[4096];
    ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    ASSERT_GT(n, 0);
    prog_ = std::filesystem::path(std::string(exe, static_cast<std::size_t>(n))).parent_path() /
            "qmail-queue";
    ASSERT_TRUE(std::filesystem::exists(prog_)) << prog_;
    ::setenv("QMAILHOME", tmp_.c_str(), 1);
    std::filesystem::create_directories(tmp_ / "control");
  }
  void TearDown() override {
    QueueServer::get().stop();
    ::unsetenv("QMAILHOME");
    TempQueue::TearDown();
  }
  // One message through the server; returns its code (-1: an error).
  int queue_one(const std::string& body, const std::string& env = bytes("Fa@b\0Tc@d\0\0")) {
    QueueServer& s = QueueServer::get();
    if (!s.begin(prog_).is_ok()) return -1;
    EXPECT_TRUE(s.busy());
    if (!s.send(kServeMessage, body).is_ok()) return -1;
    if (!s.send(kServeEnvelope, env).is_ok()) return -1;
    auto r = s.result();
    EXPECT_FALSE(s.busy());
    return r.is_ok() ? *r : -1;
  }
  std::filesystem::path prog_;
};

TEST_F(QueueServerTest, OneServerForManyMessages) {
  QueueServer& s = QueueServer::get();
  EXPECT_EQ(queue_one("one\n"), 0);
  pid_t first = s.pid();
  EXPECT_GT(first, 0);
  EXPECT_EQ(queue_one("two\n"), 0);
  EXPECT_EQ(s.pid(), first);
  EXPECT_EQ(files_under(tmp_ / "queue" / "todo").size(), 2u);
}

TEST_F(QueueServerTest, SendSplitsLongDataIntoRecords) {
  // More than two records' worth of message, in one send.
  std::string body(2 * kServeRecord + 123, 'x');
  body += "\nend\n";
  EXPECT_EQ(queue_one(body), 0);
  auto mess = files_under(tmp_ / "queue" / "mess");
  ASSERT_EQ(mess.size(), 1u);
  std::string m = slurp(tmp_ / "queue" / "mess" / mess[0]);
  EXPECT_NE(m.find("\n" + body), std::string::npos);
  EXPECT_EQ(m.size() - m.find('\n') - 1, body.size());
}

TEST_F(QueueServerTest, AServerThatWentAwayIsReplaced) {
  QueueServer& s = QueueServer::get();
  EXPECT_EQ(queue_one("one\n"), 0);
  pid_t first = s.pid();
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  // Dead, not yet reaped: begin() must see its hang-up.
  for (int i = 0; i < 100 && ::kill(first, 0) == 0; ++i) {
    siginfo_t si;
    if (::waitid(P_PID, first, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == first) break;
    ::usleep(10000);
  }
  EXPECT_EQ(queue_one("two\n"), 0);
  EXPECT_NE(s.pid(), first);
  EXPECT_EQ(files_under(tmp_ / "queue" / "todo").size(), 2u);
}

TEST_F(QueueServerTest, AnAbortKeepsTheServer) {
  QueueServer& s = QueueServer::get();
  ASSERT_TRUE(s.begin(prog_).is_ok());
  pid_t first = s.pid();
  ASSERT_TRUE(s.send(kServeMessage, "dropped\n").is_ok());
  s.abort();
  EXPECT_FALSE(s.busy());
  EXPECT_EQ(queue_one("kept\n"), 0);
  EXPECT_EQ(s.pid(), first);
  EXPECT_EQ(files_under(tmp_ / "queue" / "mess").size(), 1u);
}

TEST_F(QueueServerTest, AFailureIsReportedAndTheNextMessageGetsANewServer) {
  QueueServer& s = QueueServer::get();
  EXPECT_EQ(queue_one("bad\n", bytes("Xa@b\0\0")), queue_exit::kEnvelopeFormat);
  EXPECT_EQ(s.pid(), -1);  // reaped
  EXPECT_EQ(queue_one("good\n"), 0);
  EXPECT_EQ(files_under(tmp_ / "queue" / "todo").size(), 1u);
}

TEST_F(QueueServerTest, OneMessageAtATime) {
  QueueServer& s = QueueServer::get();
  ASSERT_TRUE(s.begin(prog_).is_ok());
  EXPECT_FALSE(s.begin(prog_).is_ok());
  s.abort();
}

TEST_F(QueueServerTest, AProgramThatCannotRunIsAnError) {
  EXPECT_FALSE(QueueServer::get().begin((tmp_ / "nonexistent").string()).is_ok());
  EXPECT_FALSE(QueueServer::get().busy());
}

TEST_F(QueueServerTest, TheSlotIsNeverAStandardDescriptor) {
  // In a child, with 0 and 1 closed (a worker puts /dev/null there
  // between connections, which would clobber a channel there).
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (QueueServer::get().enabled()) ::_exit(2);  // reserved before the fork
    ::close(0);
    ::close(1);
    ::_exit(QueueServer::get().reserve_slot() > 2 ? 0 : 1);
  }
  int wstat = 0;
  ASSERT_EQ(::waitpid(pid, &wstat, 0), pid);
  ASSERT_TRUE(WIFEXITED(wstat));
  if (WEXITSTATUS(wstat) == 2) GTEST_SKIP() << "slot reserved before this test";
  EXPECT_EQ(WEXITSTATUS(wstat), 0);
}

TEST_F(QueueServerTest, TheReservedSlotCarriesTheChannel) {
  QueueServer& s = QueueServer::get();
  int slot = s.reserve_slot();
  ASSERT_GE(slot, 0);
  EXPECT_EQ(s.reserve_slot(), slot);
  EXPECT_EQ(queue_one("one\n"), 0);
  EXPECT_TRUE(is_serve_channel(slot));
  s.stop();
  // Back on /dev/null, still open.
  EXPECT_FALSE(is_serve_channel(slot));
  EXPECT_NE(::fcntl(slot, F_GETFD), -1);
  EXPECT_EQ(queue_one("two\n"), 0);
  EXPECT_TRUE(is_serve_channel(slot));
}

}  // namespace
}  // namespace qmail::queue
