#include "send/remover.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

namespace qmail::send {

Remover::~Remover() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

Status Remover::start() {
  int p[2];
  if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) return Status::temp_errno("pipe");
  wake_r_.reset(p[0]);
  wake_w_.reset(p[1]);
  // Signals stay with the main thread (its handlers and self-pipe).
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  try {
    thread_ = std::thread([this] { loop(); });
  } catch (...) {
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return Status::temp("unable to start a thread");
  }
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return Status::ok();
}

void Remover::submit(std::uint64_t id, std::vector<std::string> paths) {
  ++pending_;
  {
    std::lock_guard<std::mutex> lock(mu_);
    in_.emplace_back(id, std::move(paths));
  }
  cv_.notify_one();
}

std::vector<Remover::Done> Remover::take() {
  char buf[256];
  while (::read(wake_r_.get(), buf, sizeof buf) > 0) {
  }
  std::vector<Done> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    done.swap(out_);
  }
  pending_ -= done.size();
  return done;
}

void Remover::loop() {
  for (;;) {
    std::pair<std::uint64_t, std::vector<std::string>> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !in_.empty(); });
      if (in_.empty()) return;  // stop_ and nothing left
      job = std::move(in_.front());
      in_.pop_front();
    }
    Done d{job.first, ""};
    for (const std::string& p : job.second) {
      if (::unlink(p.c_str()) != 0 && errno != ENOENT) {
        d.failed = p;
        break;
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      out_.push_back(std::move(d));
    }
    char c = 'r';
    (void)!::write(wake_w_.get(), &c, 1);
  }
}

}  // namespace qmail::send
