#include "queue/inject.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/exit_codes.h"

namespace qmail::queue {
namespace {

namespace fsys = std::filesystem;

// A string literal with its embedded NULs.
template <std::size_t N>
std::string bytes(const char (&lit)[N]) {
  return std::string(lit, N - 1);
}

std::string slurp(const fsys::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A fake qmail-queue speaking qmail's documented QMAILQUEUE interface:
// message on fd 0, envelope on fd 1. It copies both into $OUT and exits with
// $CODE. With $EARLY set it exits at once without reading anything.
class SubmissionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::signal(SIGPIPE, SIG_IGN);  // as run_program does
    char tmpl[] = "/tmp/inject-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    script_ = dir_ / "fake-qmail-queue";
    std::ofstream(script_) << "#!/bin/sh\n"
                              "[ -n \"$EARLY\" ] && exit \"$CODE\"\n"
                              "[ -e /proc/$$/fd/77 ] && echo leaked > \"$OUT/leak\"\n"
                              // Read by the shell itself: a command it
                              // forks would see the mask the shell holds
                              // around its fork.
                              "while read -r k v; do case $k in SigBlk:|SigIgn:) "
                              "echo \"$k $v\";; esac; done < /proc/$$/status > \"$OUT/sig\"\n"
                              "cat > \"$OUT/msg\" || exit 54\n"
                              "cat <&1 > \"$OUT/env.tmp\" || exit 54\n"
                              "[ -s \"$OUT/env.tmp\" ] || exit 91\n"
                              "mv \"$OUT/env.tmp\" \"$OUT/env\"\n"
                              "exit \"$CODE\"\n";
    fsys::permissions(script_, fsys::perms::owner_all);
    ::setenv("QMAILQUEUE", script_.c_str(), 1);
    ::setenv("OUT", dir_.c_str(), 1);
    ::setenv("CODE", "0", 1);
    ::unsetenv("EARLY");
  }
  void TearDown() override {
    ::unsetenv("QMAILQUEUE");
    ::unsetenv("EARLY");
    fsys::remove_all(dir_);
  }
  fsys::path dir_;
  fsys::path script_;
};

TEST_F(SubmissionTest, CopiesMessageAndEnvelopeBytes) {
  auto s = Submission::start();
  ASSERT_TRUE(s.is_ok()) << s.status().message();
  std::string want_msg = bytes("Subject: hi\n\nbody with a NUL \0 byte\n");
  std::string big(300 * 1024, 'x');  // larger than the buffer and a pipe
  big[1000] = '\0';
  ASSERT_TRUE(s->put(want_msg).is_ok());
  ASSERT_TRUE(s->put(big).is_ok());
  ASSERT_TRUE(s->put("end\n").is_ok());
  want_msg += big;
  want_msg += "end\n";
  auto code = s->finish("a@b.example", {"c@d.example", "e@f.example"});
  ASSERT_TRUE(code.is_ok()) << code.status().message();
  EXPECT_EQ(*code, 0);
  EXPECT_EQ(slurp(dir_ / "msg"), want_msg);
  EXPECT_EQ(slurp(dir_ / "env"), bytes("Fa@b.example\0Tc@d.example\0Te@f.example\0\0"));
}

TEST_F(SubmissionTest, EmptyMessageNullSenderNoRecipients) {
  auto s = Submission::start();
  ASSERT_TRUE(s.is_ok());
  auto code = s->finish("", {});
  ASSERT_TRUE(code.is_ok());
  EXPECT_EQ(*code, 0);
  EXPECT_EQ(slurp(dir_ / "msg"), "");
  EXPECT_EQ(slurp(dir_ / "env"), bytes("F\0\0"));
}

TEST_F(SubmissionTest, PutFdCopiesEverything) {
  std::string data(200000, 'y');
  fsys::path src = dir_ / "src";
  std::ofstream(src, std::ios::binary) << data;
  int fd = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  auto s = Submission::start();
  ASSERT_TRUE(s.is_ok());
  ASSERT_TRUE(s->put("head\n").is_ok());
  ASSERT_TRUE(s->put_fd(fd).is_ok());
  ::close(fd);
  auto code = s->finish("x@y", {"z@w"});
  ASSERT_TRUE(code.is_ok());
  EXPECT_EQ(*code, 0);
  EXPECT_EQ(slurp(dir_ / "msg"), "head\n" + data);
}

TEST_F(SubmissionTest, ReturnsQmailQueueExitCode) {
  for (int want : {11, 31, 53, 91}) {
    ::setenv("CODE", std::to_string(want).c_str(), 1);
    auto s = Submission::start();
    ASSERT_TRUE(s.is_ok());
    ASSERT_TRUE(s->put("x\n").is_ok());
    auto code = s->finish("a@b", {"c@d"});
    ASSERT_TRUE(code.is_ok());
    EXPECT_EQ(*code, want);
  }
}

TEST_F(SubmissionTest, EarlyExitMakesPutFailAndFinishReportsTheCode) {
  ::setenv("EARLY", "1", 1);
  ::setenv("CODE", "31", 1);
  auto s = Submission::start();
  ASSERT_TRUE(s.is_ok());
  std::string big(1 << 20, 'x');
  Status st = Status::ok();
  for (int i = 0; i < 8 && st.is_ok(); ++i) st = s->put(big);
  EXPECT_FALSE(st.is_ok());
  EXPECT_TRUE(st.is_temp());
  auto code = s->finish("a@b", {"c@d"});
  ASSERT_TRUE(code.is_ok());
  EXPECT_EQ(*code, 31);
}

TEST_F(SubmissionTest, SuccessWithoutReadingEverythingIsAReadError) {
  ::setenv("EARLY", "1", 1);
  ::setenv("CODE", "0", 1);
  auto s = Submission::start();
  ASSERT_TRUE(s.is_ok());
  std::string big(1 << 20, 'x');
  for (int i = 0; i < 8; ++i) (void)s->put(big);
  auto code = s->finish("a@b", {"c@d"});
  ASSERT_TRUE(code.is_ok());
  EXPECT_EQ(*code, queue_exit::kReadError);
}

TEST_F(SubmissionTest, ExecFailureIs120) {
  ::setenv("QMAILQUEUE", (dir_ / "no-such-program").c_str(), 1);
  auto s = Submission::start();
  ASSERT_TRUE(s.is_ok());
  (void)s->put("x");
  auto code = s->finish("a@b", {"c@d"});
  ASSERT_TRUE(code.is_ok());
  EXPECT_EQ(*code, 120);
}

TEST_F(SubmissionTest, ChildInheritsNoStrayDescriptors) {
  int fd = ::open("/dev/null", O_RDONLY);  // deliberately not O_CLOEXEC
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::dup2(fd, 77), 77);
  ::close(fd);
  auto s = Submission::start();
  ASSERT_TRUE(s.is_ok());
  auto code = s->finish("a@b", {"c@d"});
  ::close(77);
  ASSERT_TRUE(code.is_ok());
  EXPECT_EQ(*code, 0);
  EXPECT_FALSE(fsys::exists(dir_ / "leak"));
}

TEST_F(SubmissionTest, ChildGetsDefaultSigpipeAndNoBlockedSignals) {
  // The caller ignores SIGPIPE (SetUp, as run_program) and blocks SIGUSR1.
  sigset_t usr1, old;
  ::sigemptyset(&usr1);
  ::sigaddset(&usr1, SIGUSR1);
  ASSERT_EQ(::sigprocmask(SIG_BLOCK, &usr1, &old), 0);
  auto s = Submission::start();
  ::sigprocmask(SIG_SETMASK, &old, nullptr);
  ASSERT_TRUE(s.is_ok());
  auto code = s->finish("a@b", {"c@d"});
  ASSERT_TRUE(code.is_ok());
  EXPECT_EQ(*code, 0);
  std::string sig = slurp(dir_ / "sig");
  auto mask = [&](const char* name) {
    auto at = sig.find(name);
    EXPECT_NE(at, std::string::npos) << sig;
    return std::stoull(sig.substr(at + std::strlen(name)), nullptr, 16);
  };
  EXPECT_EQ(mask("SigBlk:"), 0u) << sig;
  EXPECT_EQ(mask("SigIgn:") & (1ull << (SIGPIPE - 1)), 0u) << sig;
}

TEST_F(SubmissionTest, ChildSeesOnlyItsOwnPipesOnZeroAndOne) {
  // Even with fd 0 closed in the caller, the pipes land on 0 and 1.
  int saved = ::fcntl(0, F_DUPFD_CLOEXEC, 10);
  ASSERT_GE(saved, 0);
  ::close(0);
  auto s = Submission::start();
  ::dup2(saved, 0);
  ::close(saved);
  ASSERT_TRUE(s.is_ok());
  ASSERT_TRUE(s->put("m\n").is_ok());
  auto code = s->finish("a@b", {"c@d"});
  ASSERT_TRUE(code.is_ok());
  EXPECT_EQ(*code, 0);
  EXPECT_EQ(slurp(dir_ / "msg"), "m\n");
  EXPECT_EQ(slurp(dir_ / "env"), bytes("Fa@b\0Tc@d\0\0"));
}

TEST_F(SubmissionTest, DestroyedUnfinishedKillsReapsAndQueuesNothing) {
  auto t0 = std::chrono::steady_clock::now();
  {
    auto s = Submission::start();
    ASSERT_TRUE(s.is_ok());
    ASSERT_TRUE(s->put("partial").is_ok());
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
  // The child was reaped: no child of ours is left.
  int wstat;
  EXPECT_EQ(::waitpid(-1, &wstat, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
  EXPECT_FALSE(fsys::exists(dir_ / "env"));
}

TEST_F(SubmissionTest, MoveTransfersOwnership) {
  auto s = Submission::start();
  ASSERT_TRUE(s.is_ok());
  Submission a = std::move(*s);
  ASSERT_TRUE(a.put("moved\n").is_ok());
  auto code = a.finish("a@b", {"c@d"});
  ASSERT_TRUE(code.is_ok());
  EXPECT_EQ(*code, 0);
  EXPECT_EQ(slurp(dir_ / "msg"), "moved\n");
}

}  // namespace
}  // namespace qmail::queue
