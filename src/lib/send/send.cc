#include "send/send.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "base/strings.h"
#include "fs/fs.h"
#include "home/home.h"
#include "io/fd.h"
#include "io/io.h"
#include "queue/clean.h"
#include "queue/inject.h"
#include "queue/layout.h"
#include "send/bounce.h"
#include "send/envelope.h"
#include "send/remover.h"
#include "send/route.h"
#include "send/schedule.h"
#include "send/todo_watch.h"
#include "spawn/protocol.h"

namespace qmail::send {

namespace {

constexpr int kLogFd = 0;
constexpr int kSpawnOut[2] = {1, 3};
constexpr int kSpawnIn[2] = {2, 4};
constexpr int kCleanOut = 5;
constexpr int kCleanIn = 6;
constexpr const char* kChanName[2] = {"local", "remote"};
constexpr const char* kSpawnerName[2] = {"qmail-lspawn", "qmail-rspawn"};
constexpr std::int64_t kChanskip[2] = {kChanskipLocal, kChanskipRemote};
// A bounce file is read whole to build the bounce.
constexpr std::size_t kMaxBounceFile = 16 * 1024 * 1024;
constexpr std::uint64_t kDefaultLifetime = 604800;

volatile sig_atomic_t g_term = 0, g_alrm = 0, g_hup = 0;
int g_sig_w = -1;

void on_signal(int sig) {
  int saved = errno;
  if (sig == SIGTERM) g_term = 1;
  if (sig == SIGALRM) g_alrm = 1;
  if (sig == SIGHUP) g_hup = 1;
  char c = 's';
  (void)!::write(g_sig_w, &c, 1);
  errno = saved;
}

std::int64_t now() { return static_cast<std::int64_t>(::time(nullptr)); }

// Sender and recipient addresses in log lines: control bytes would break
// the one-line-per-event format.
std::string safe(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 32 || c == 127) c = '?';
  return out;
}

struct Rcpt {
  std::string addr;
  std::size_t offset = 0;
  bool done = false;
  bool busy = false;
  bool tried = false;  // started in the current round
};

struct Chan {
  std::vector<Rcpt> rcpts;
  int busy = 0;
  bool in_round = false;
  bool deferred = false;
  // Taken from todo/ and waiting in waiting_ for its first round
  // (Send::fresh_).
  bool fresh = false;
  bool pending() const {
    for (const auto& r : rcpts)
      if (!r.done) return true;
    return false;
  }
  bool untried() const {
    for (const auto& r : rcpts)
      if (!r.done && !r.busy && !r.tried) return true;
    return false;
  }
};

struct Msg {
  std::uint64_t id = 0;
  std::string sender;
  std::int64_t birth = 0;
  Chan ch[2];
  bool bounce = false;  // bounce/<id> exists
  // Delivered straight from todo/<id>: no info, local or remote file
  // exists yet (see process_todo). Cleared by materialize().
  bool direct = false;
  // Done; its files are being removed by the Remover.
  bool removing = false;
  bool idle() const {
    return !ch[0].busy && !ch[1].busy && !ch[0].in_round && !ch[1].in_round && !removing;
  }
};

struct Job {
  std::uint64_t id;
  int chan;
  std::size_t rcpt;
};

class Send {
 public:
  Send() : q_(queue::Layout::from_home()) {}
  ~Send() { flush_log(); }
  Send(const Send&) = delete;
  Send& operator=(const Send&) = delete;
  Status run();

 private:
  // Log lines are collected and written once per turn of the loop
  // (before it waits), not one write each: about seven per message, and
  // each one woke the logger.
  void logline(std::string_view line);
  void flush_log();
  std::string logbuf_;
  void log_status();
  Status load_config();
  void reload();
  // todo/ handling
  void scan_todo();
  // The names todo_watch_ saw (or, without it or after lost events, a
  // listing of todo/).
  void scan_new_todo();
  // The first `n_parked` of `ids` come from parked_ (take_slice).
  void process_todo(const std::vector<std::uint64_t>& ids, std::size_t n_parked);
  bool materialize(Msg& m);
  void requeue_todo(std::uint64_t id);
  void sweep_mess();
  // messages
  void scan_info();
  void load_message(std::uint64_t id);
  void check_message(std::uint64_t id);
  bool inject_bounce(Msg& m);
  bool mark_done(Msg& m, int c, std::size_t i);
  bool append_bounce(Msg& m, std::string_view rcpt, std::string_view report);
  // deliveries
  void dispatch(int c);
  void start_delivery(Msg& m, int c, std::size_t i);
  void handle_reply(int c, const spawn::Reply& r);
  void end_round(Msg& m, int c);
  void schedule(Msg& m, int c, std::int64_t when);
  // pipes
  void clean_send(char cmd, const std::vector<std::uint64_t>& ids);
  bool clean_pending(std::uint64_t id) const;
  bool read_clean();
  void sync_marks();
  void flush_spawn(int c);
  bool read_spawn(int c);
  [[noreturn]] void lost(const char* what);
  int busy_total() const { return busy_[0] + busy_[1]; }
  std::int64_t next_wakeup() const;

  queue::Layout q_;
  Controls controls_;
  BounceConfig bounce_;
  std::uint64_t lifetime_ = kDefaultLifetime;
  int conc_[2] = {10, 20};
  int busy_[2] = {0, 0};
  std::map<std::uint64_t, Msg> msgs_;
  std::map<std::uint64_t, Job> jobs_;
  std::uint64_t next_delivery_ = 1;
  std::set<std::pair<std::int64_t, std::uint64_t>> waiting_[2];
  std::map<std::uint64_t, std::int64_t> waiting_at_[2];
  std::deque<std::uint64_t> active_[2];
  std::deque<std::uint64_t> todo_;
  // Ids read from todo/ but left there because the channel had
  // fresh_limit() new messages waiting already (process_todo); taken
  // again, in order, when it has room. They stay in todo_known_.
  std::deque<std::uint64_t> parked_[2];
  // Channels of messages taken from todo/ that wait for their first
  // round (Chan::fresh), per channel.
  std::size_t fresh_[2] = {0, 0};
  std::size_t fresh_limit(int c) const {
    return std::max(kFreshMin, kFreshPerSlot * static_cast<std::size_t>(conc_[c]));
  }
  // How many more new messages channel `c` takes. A channel on hold
  // (concurrency 0) is never full: its new messages are preprocessed and
  // wait on disk (process_todo).
  std::size_t room(int c) const {
    if (conc_[c] == 0) return SIZE_MAX;
    return fresh_[c] >= fresh_limit(c) ? 0 : fresh_limit(c) - fresh_[c];
  }
  bool full(int c) const { return room(c) == 0; }
  // A message that needs both channels is taken while one of them has
  // room, up to twice the bound on the other (process_todo).
  bool overfull(int c) const { return conc_[c] > 0 && fresh_[c] >= 2 * fresh_limit(c); }
  void mark_fresh(Msg& m);
  // Its channel `c`, or both, no longer fresh.
  void unfresh(Msg& m, int c);
  void unfresh(Msg& m);
  // Whether a slice of new mail can be taken now (parked or from todo_).
  bool can_take() const;
  // Returns the slice and, in *n_parked, how many of it (at its front)
  // come from parked_.
  std::vector<std::uint64_t> take_slice(std::size_t* n_parked);
  std::set<std::uint64_t> todo_known_;
  std::set<std::pair<std::int64_t, std::uint64_t>> todo_retry_;
  std::set<std::pair<std::int64_t, std::uint64_t>> recheck_;
  // Messages whose files could not be read (load_message): read again at
  // their time.
  std::set<std::pair<std::int64_t, std::uint64_t>> reload_;
  std::string outbuf_[2];
  spawn::Decoder dec_[2];
  Fd trigger_;
  Fd trigger_writer_;
  TodoWatch todo_watch_;
  std::int64_t next_scan_ = 0;
  std::int64_t next_mess_sweep_ = 0;
  // Recipient lists with 'D' marks not yet fsynced (see mark_done), with
  // their message ids.
  std::map<std::string, std::pair<std::uint64_t, Fd>> marked_;
  // Requests written to qmail-clean whose replies have not come yet, in
  // order; and failed ones to send again at their time.
  std::deque<std::pair<char, std::uint64_t>> clean_inflight_;
  std::set<std::tuple<std::int64_t, char, std::uint64_t>> clean_retry_;
  // An "x" ended: todo/ is scanned again at the next pass (a new message
  // may have the freed id; see read_clean).
  bool clean_gone_ = false;  // EOF from qmail-clean after TERM
  // Messages in msgs_ with Msg::direct set (see process_todo).
  std::size_t direct_count_ = 0;
  bool waiting_for_slot(const Msg& m) const {
    for (int c = 0; c < 2; ++c)
      if (waiting_at_[c].count(m.id)) return true;
    return false;
  }
  Remover remover_;
  void finish_removed();
};

void Send::logline(std::string_view line) {
  logbuf_ += line;
  logbuf_ += '\n';
  if (logbuf_.size() >= 16384) flush_log();
}

void Send::flush_log() {
  if (logbuf_.empty()) return;
  // Nothing to do if the logger is gone; qmail-send keeps delivering.
  (void)io::write_all(kLogFd, logbuf_);
  logbuf_.clear();
}

void Send::log_status() {
  // qmail-log(5): after TERM qmail-send marks its status lines "exitasap".
  logline("status: local " + std::to_string(busy_[0]) + "/" + std::to_string(conc_[0]) +
          " remote " + std::to_string(busy_[1]) + "/" + std::to_string(conc_[1]) +
          (g_term ? " exitasap" : ""));
}

void Send::lost(const char* what) {
  logline(std::string("alert: oh no! lost ") + what + " connection! dying...");
  flush_log();
  ::_exit(111);
}

Status Send::load_config() {
  QMAIL_ASSIGN_OR_RETURN(Controls c, load_controls());
  QMAIL_ASSIGN_OR_RETURN(BounceConfig b, load_bounce_config());
  QMAIL_ASSIGN_OR_RETURN(std::uint64_t cl, control::read_uint("concurrencylocal", 10));
  QMAIL_ASSIGN_OR_RETURN(std::uint64_t cr, control::read_uint("concurrencyremote", 20));
  QMAIL_ASSIGN_OR_RETURN(std::uint64_t lt, control::read_uint("queuelifetime", kDefaultLifetime));
  controls_ = std::move(c);
  bounce_ = std::move(b);
  conc_[0] = static_cast<int>(std::min(cl, kMaxConcurrency));
  conc_[1] = static_cast<int>(std::min(cr, kMaxConcurrency));
  lifetime_ = lt;
  return Status::ok();
}

void Send::reload() {
  Status s = load_config();
  if (!s.is_ok()) logline("alert: unable to reread controls: " + safe(s.message()));
}

// ---- todo/ -------------------------------------------------------------

void Send::scan_todo() {
  auto names = fs::list_dir(q_.dir("todo"));
  if (!names.is_ok()) {
    logline("alert: unable to opendir todo, sleeping...");
    return;
  }
  for (const auto& n : *names) {
    auto id = str::parse_uint(n);
    if (!id || todo_known_.count(*id)) continue;
    todo_known_.insert(*id);
    todo_.push_back(*id);
  }
}

void Send::scan_new_todo() {
  std::vector<std::uint64_t> ids;
  if (!todo_watch_.take(&ids)) {
    scan_todo();
    return;
  }
  for (std::uint64_t id : ids) {
    if (todo_known_.count(id)) continue;
    todo_known_.insert(id);
    todo_.push_back(id);
  }
}

// Preprocessing new messages (qmail's INTERNALS): write info, local and
// remote for each todo/<id>, make them durable, then ask qmail-clean to
// remove intd/<id> and todo/<id>. Until todo/<id> is gone, a crash
// anywhere here just makes us (or our successor) preprocess it again from
// scratch: the files are rewritten with O_TRUNC, and no delivery is
// started before qmail-clean's '+' (so no 'D' mark can be lost by the
// rewrite). A batch is written first and then fsynced with all its
// directories at once (group commit).
void Send::process_todo(const std::vector<std::uint64_t>& ids, std::size_t n_parked) {
  struct Work {
    std::uint64_t id;
    Todo todo;
    off_t bytes;
  };
  std::vector<Work> work;
  std::vector<Fd> written;
  std::set<std::string> dirs;
  // Delivery slots left after the queued deliveries had theirs (dispatch
  // runs before us): a new message that fits in them is delivered
  // directly.
  int free_slots[2] = {conc_[0] - busy_[0], conc_[1] - busy_[1]};
  auto retry = [&](std::uint64_t id) { todo_retry_.insert({now() + kTroubleDelay, id}); };
  auto write_file = [&](const std::string& path, std::string_view data) -> bool {
    auto fd = fs::open_trunc(path, 0600);
    if (!fd.is_ok()) {
      logline("warning: unable to create " + path + "; will try again later");
      return false;
    }
    if (!io::write_all(fd->get(), data).is_ok()) {
      logline("warning: trouble writing to " + path + "; will try again later");
      return false;
    }
    written.push_back(std::move(*fd));
    return true;
  };

  // Parked again after coming from parked_: back to the front, in order.
  std::vector<std::uint64_t> reparked[2];
  for (std::size_t k = 0; k < ids.size(); ++k) {
    std::uint64_t id = ids[k];
    if (clean_pending(id)) {
      // qmail-clean is still removing a message with this id, perhaps
      // this very todo/<id>: never take it up now. The '+' makes us
      // scan todo/ again (read_clean).
      continue;
    }
    std::string todo_path = q_.todo(id);
    auto text = fs::read_file(todo_path, kMaxEnvelope);
    if (!text.is_ok()) {
      if (text.status().err() == ENOENT) {
        todo_known_.erase(id);
        continue;
      }
      logline("warning: trouble reading todo/" + std::to_string(id) + "; will try again later");
      retry(id);
      continue;
    }
    if (msgs_.count(id)) {
      // The id of a message we still hold came back (inode reuse): finish
      // the old one first.
      retry(id);
      continue;
    }
    auto todo = parse_todo(*text);
    if (!todo.is_ok()) {
      logline("new msg " + std::to_string(id));
      logline("warning: unknown record type in todo/" + std::to_string(id));
      todo_retry_.insert({now() + kTodoScanInterval, id});
      continue;
    }
    std::vector<std::string> addrs[2];
    for (const auto& r : todo->recipients) {
      Route rt = route(controls_, r);
      addrs[rt.local ? 0 : 1].push_back(std::move(rt.address));
    }
    bool fits = static_cast<int>(addrs[0].size()) <= free_slots[0] &&
                static_cast<int>(addrs[1].size()) <= free_slots[1];
    // A channel with fresh_limit() new messages waiting for their first
    // delivery takes no more: this one stays in todo/ and comes back when
    // the channel has room (take_slice), before anything newer. A message
    // for both channels is taken while either has room, so a stalled
    // channel does not hold up the other's recipients, until the stalled
    // one has twice its bound.
    if (!fits) {
      bool need[2] = {!addrs[0].empty(), !addrs[1].empty()};
      int c = need[0] && overfull(0) ? 0 : need[1] && overfull(1) ? 1 : -1;
      if (c < 0 && (!need[0] || full(0)) && (!need[1] || full(1))) c = need[0] ? 0 : 1;
      if (c >= 0 && (need[0] || need[1])) {
        if (k < n_parked)
          reparked[c].push_back(id);
        else
          parked_[c].push_back(id);
        continue;
      }
    }
    logline("new msg " + std::to_string(id));
    auto st = fs::stat(q_.mess(id));
    if (!st.is_ok()) {
      logline("warning: unable to stat mess/" + std::to_string(id % queue::kSplit) + "/" +
              std::to_string(id) + "; will try again later");
      retry(id);
      continue;
    }
    // The direct path: the message is delivered from todo/<id> without
    // writing info, local and remote (and without fsyncing them).
    // todo/<id> stays until every recipient succeeded; then qmail-clean's
    // "x" removes todo, intd and mess. A crash before that only makes the
    // restart preprocess the message again and repeat its deliveries
    // (duplicates, never a loss). The first failure or deferral writes the
    // files after all (materialize) and the message goes on as any other.
    // Taken when every recipient gets a delivery slot now, or else while
    // fewer than kMaxDirect direct messages are held: such a message waits
    // for its slots in waiting_, in time order with the retries already
    // due, exactly as a preprocessed one would (so it starves nothing and
    // nothing starves it), only without its files. Not taken when
    // info/<id> exists (left by a crash in an earlier preprocessing: the
    // regular path rewrites it).
    std::size_t n_rcpts = addrs[0].size() + addrs[1].size();
    // A channel on hold (concurrency 0) gives no slot soon: such a message
    // is preprocessed, as qmail would.
    bool held = (!addrs[0].empty() && conc_[0] == 0) || (!addrs[1].empty() && conc_[1] == 0);
    bool waits = !held && direct_count_ < kMaxDirect;
    if (n_rcpts > 0 && (fits || waits) && !fs::exists(q_.info(id))) {
      if (fits) {
        free_slots[0] -= static_cast<int>(addrs[0].size());
        free_slots[1] -= static_cast<int>(addrs[1].size());
      }
      logline("info msg " + std::to_string(id) + ": bytes " + std::to_string(st->st_size) +
              " from <" + spawn::log_text(todo->sender) + "> qp " + std::to_string(todo->qp) +
              " uid " + std::to_string(todo->uid));
      Msg m;
      m.id = id;
      m.sender = std::move(todo->sender);
      m.birth = now();
      m.direct = true;
      auto [it, inserted] = msgs_.emplace(id, std::move(m));
      QMAIL_CHECK(inserted);
      ++direct_count_;
      for (int c = 0; c < 2; ++c) {
        if (addrs[c].empty()) continue;
        Chan& ch = it->second.ch[c];
        for (auto& a : addrs[c]) ch.rcpts.push_back({std::move(a), 0, false});
        if (fits) {
          ch.in_round = true;
          active_[c].push_back(id);
        } else {
          schedule(it->second, c, now());
        }
      }
      mark_fresh(it->second);
      continue;
    }
    // info first: its mtime is the birth time. Then the recipient lists; a
    // list left from an earlier attempt under other routing is removed.
    if (!write_file(q_.info(id), format_info(todo->sender))) {
      retry(id);
      continue;
    }
    dirs.insert(q_.split_dir("info", id));
    bool ok = true;
    const char* subs[2] = {"local", "remote"};
    const std::string lists[2] = {q_.local(id), q_.remote(id)};
    for (int c = 0; c < 2 && ok; ++c) {
      if (!addrs[c].empty()) {
        ok = write_file(lists[c], format_rcpts(addrs[c]));
        dirs.insert(q_.split_dir(subs[c], id));
      } else if (::unlink(lists[c].c_str()) == 0) {
        dirs.insert(q_.split_dir(subs[c], id));
      } else if (errno != ENOENT) {
        logline("warning: unable to unlink " + lists[c] + "; will try again later");
        ok = false;
      }
    }
    if (!ok) {
      retry(id);
      continue;
    }
    work.push_back({id, std::move(*todo), st->st_size});
  }
  for (int c = 0; c < 2; ++c)
    parked_[c].insert(parked_[c].begin(), reparked[c].begin(), reparked[c].end());
  if (work.empty()) return;

  // The files' bytes, then their names, must be durable before todo/<id>
  // may go.
  // All at once (fs::fsync_all): one wait for the disk for the batch.
  std::vector<const Fd*> files;
  for (const Fd& fd : written) files.push_back(&fd);
  bool durable = fs::fsync_all(files, {dirs.begin(), dirs.end()}).is_ok();
  written.clear();
  if (!durable) {
    logline("warning: trouble fsyncing info, local or remote; will try again later");
    for (const Work& w : work) retry(w.id);
    return;
  }

  std::vector<std::uint64_t> done;
  for (const Work& w : work) {
    logline("info msg " + std::to_string(w.id) + ": bytes " + std::to_string(w.bytes) + " from <" +
            spawn::log_text(w.todo.sender) + "> qp " + std::to_string(w.todo.qp) + " uid " +
            std::to_string(w.todo.uid));
    done.push_back(w.id);
  }
  // qmail-clean removes intd/<id> and todo/<id>, all of the batch in one
  // go, while we go on: info/local/remote are durable, so the message is
  // ours now. A crash before todo/<id> is gone for good only makes the
  // restart preprocess (and deliver) it again. todo_known_ keeps the id
  // until qmail-clean's '+' (read_clean), so a rescan of todo/ meanwhile
  // does not take it up again.
  clean_send('i', done);
  for (std::uint64_t id : done) {
    load_message(id);
    if (auto it = msgs_.find(id); it != msgs_.end()) mark_fresh(it->second);
  }
}

void Send::mark_fresh(Msg& m) {
  for (int c = 0; c < 2; ++c) {
    Chan& ch = m.ch[c];
    if (!ch.fresh && conc_[c] > 0 && waiting_at_[c].count(m.id)) {
      ch.fresh = true;
      ++fresh_[c];
    }
  }
}

void Send::unfresh(Msg& m, int c) {
  if (!m.ch[c].fresh) return;
  m.ch[c].fresh = false;
  --fresh_[c];
}

void Send::unfresh(Msg& m) {
  for (int c = 0; c < 2; ++c) unfresh(m, c);
}

bool Send::can_take() const {
  for (int c = 0; c < 2; ++c)
    if (!parked_[c].empty() && !full(c)) return true;
  return !todo_.empty() && (!full(0) || !full(1));
}

// The next slice of new mail: messages parked for a channel that has room
// again first (as many as that room), then new names from todo/ -- while
// at least one channel has room; a message for a full one is parked.
std::vector<std::uint64_t> Send::take_slice(std::size_t* n_parked) {
  std::vector<std::uint64_t> slice;
  for (int c = 0; c < 2; ++c) {
    for (std::size_t left = room(c); slice.size() < kTodoSlice && left > 0 && !parked_[c].empty();
         --left) {
      slice.push_back(parked_[c].front());
      parked_[c].pop_front();
    }
  }
  *n_parked = slice.size();
  while (slice.size() < kTodoSlice && !todo_.empty() && (!full(0) || !full(1))) {
    slice.push_back(todo_.front());
    todo_.pop_front();
  }
  return slice;
}

// A direct message (process_todo) needs its files after all: a
// recipient failed or was deferred. Writes info and the lists, with 'D'
// for the recipients already delivered, makes them durable, and asks
// qmail-clean to remove todo/<id> ("i"), exactly as preprocessing does.
// Returns false on trouble; the message is then preprocessed again from
// todo/<id> once it is idle (check_message).
bool Send::materialize(Msg& m) {
  std::vector<Fd> written;
  std::vector<std::string> dirs;
  auto write_file = [&](const std::string& path, std::string_view data) -> bool {
    auto fd = fs::open_trunc(path, 0600);
    if (!fd.is_ok() || !io::write_all(fd->get(), data).is_ok()) {
      logline("warning: trouble writing to " + path + "; will try again later");
      return false;
    }
    written.push_back(std::move(*fd));
    return true;
  };
  if (!write_file(q_.info(m.id), format_info(m.sender))) return false;
  dirs.push_back(q_.split_dir("info", m.id));
  const char* subs[2] = {"local", "remote"};
  const std::string lists[2] = {q_.local(m.id), q_.remote(m.id)};
  std::vector<std::size_t> offsets[2];
  for (int c = 0; c < 2; ++c) {
    if (m.ch[c].rcpts.empty()) continue;
    std::string text;
    for (const Rcpt& r : m.ch[c].rcpts) {
      offsets[c].push_back(text.size());
      text += r.done ? 'D' : 'T';
      text += r.addr;
      text += '\0';
    }
    if (!write_file(lists[c], text)) return false;
    dirs.push_back(q_.split_dir(subs[c], m.id));
  }
  std::vector<const Fd*> files;
  for (const Fd& fd : written) files.push_back(&fd);
  if (!fs::fsync_all(files, dirs).is_ok()) {
    logline("warning: trouble fsyncing info, local or remote; will try again later");
    return false;
  }
  for (int c = 0; c < 2; ++c)
    for (std::size_t i = 0; i < m.ch[c].rcpts.size(); ++i) m.ch[c].rcpts[i].offset = offsets[c][i];
  m.direct = false;
  --direct_count_;
  m.birth = now();
  clean_send('i', {m.id});
  return true;
}

// Takes todo/<id> up again (after trouble with a direct message).
void Send::requeue_todo(std::uint64_t id) { todo_retry_.insert({now() + kTroubleDelay, id}); }

// Debris of qmail-queue runs that died before their commit: a mess file
// with neither todo/<id> nor info/<id>, older than qmail-clean's
// kOssified (a live qmail-queue gives up after 24 hours). qmail-clean
// cannot tell it from a message we have taken (it does not look at info/),
// so we judge and ask it to remove the files ("x").
void Send::sweep_mess() {
  std::int64_t t = now();
  for (std::uint64_t s = 0; s < queue::kSplit; ++s) {
    auto names = fs::list_dir(q_.split_dir("mess", s));
    if (!names.is_ok()) continue;
    for (const auto& n : *names) {
      auto id = str::parse_uint(n);
      if (!id || msgs_.count(*id) || todo_known_.count(*id) || clean_pending(*id)) continue;
      auto st = fs::stat(q_.mess(*id));
      if (!st.is_ok() || st->st_mtime + queue::clean::kOssified >= t) continue;
      if (fs::exists(q_.todo(*id)) || fs::exists(q_.info(*id))) continue;
      logline("warning: removing unfinished message mess/" + std::to_string(s) + "/" + n);
      clean_send('x', {*id});
    }
  }
}

// ---- messages ------------------------------------------------------------

void Send::scan_info() {
  for (std::uint64_t s = 0; s < queue::kSplit; ++s) {
    std::string dir = q_.dir("info") + "/" + std::to_string(s);
    auto names = fs::list_dir(dir);
    if (!names.is_ok()) {
      logline("alert: unable to opendir info/" + std::to_string(s) + ", sleeping...");
      continue;
    }
    for (const auto& n : *names) {
      auto id = str::parse_uint(n);
      if (!id || todo_known_.count(*id) || msgs_.count(*id)) continue;
      // A message still in todo/ is preprocessed again from todo.
      if (fs::exists(q_.todo(*id))) continue;
      load_message(*id);
    }
  }
}

void Send::load_message(std::uint64_t id) {
  auto again = [&] { reload_.insert({now() + kTroubleDelay, id}); };
  std::string info_path = q_.info(id);
  auto info = fs::read_file(info_path, kMaxEnvelope);
  auto info_st = fs::stat(info_path);
  if (!info.is_ok() || !info_st.is_ok()) {
    logline("warning: trouble reading info/" + std::to_string(id % queue::kSplit) + "/" +
            std::to_string(id) + "; will try again later");
    return again();
  }
  auto sender = parse_info(*info);
  if (!sender.is_ok()) {
    logline("warning: unknown record type in info/" + std::to_string(id % queue::kSplit) + "/" +
            std::to_string(id));
    return again();
  }
  Msg m;
  m.id = id;
  m.sender = std::move(*sender);
  m.birth = info_st->st_mtime;
  if (!fs::exists(q_.mess(id))) {
    // Only qmail-clean's "x" removes the mess file of a message that has
    // info/<id>, and only once every recipient is done: a crash undid the
    // rest of that cleanup. Finish it (check_message) rather than deliver.
    logline("warning: mess/" + std::to_string(id % queue::kSplit) + "/" + std::to_string(id) +
            " is gone; finishing the message");
    msgs_.emplace(id, std::move(m));
    recheck_.insert({0, id});
    return;
  }
  std::int64_t when[2] = {0, 0};
  const std::string lists[2] = {q_.local(id), q_.remote(id)};
  for (int c = 0; c < 2; ++c) {
    auto text = fs::read_file(lists[c], kMaxEnvelope);
    if (!text.is_ok()) {
      if (text.status().err() == ENOENT) continue;
      logline("warning: trouble reading " + lists[c] + "; will try again later");
      return again();
    }
    auto recs = parse_rcpts(*text);
    if (!recs.is_ok()) {
      logline("warning: unknown record type in " + lists[c]);
      return again();
    }
    for (auto& r : *recs) m.ch[c].rcpts.push_back({std::move(r.address), r.offset, r.done});
    auto st = fs::stat(lists[c]);
    // The list's mtime is the next retry time (set when a round ends).
    if (st.is_ok()) when[c] = st->st_mtime;
  }
  m.bounce = fs::exists(q_.bounce(id));
  auto [it, inserted] = msgs_.emplace(id, std::move(m));
  if (!inserted) return;
  for (int c = 0; c < 2; ++c)
    if (it->second.ch[c].pending()) schedule(it->second, c, when[c]);
  recheck_.insert({0, id});
}

void Send::schedule(Msg& m, int c, std::int64_t when) {
  auto old = waiting_at_[c].find(m.id);
  if (old != waiting_at_[c].end()) {
    waiting_[c].erase({old->second, m.id});
    waiting_at_[c].erase(old);
  }
  waiting_[c].insert({when, m.id});
  waiting_at_[c][m.id] = when;
}

// Called whenever a message may have become idle: inject its bounce, and
// remove it from the queue when every recipient is done.
void Send::check_message(std::uint64_t id) {
  auto it = msgs_.find(id);
  if (it == msgs_.end()) return;
  Msg& m = it->second;
  if (!m.idle()) return;
  if (m.direct) {
    // Still waiting for a delivery slot (process_todo).
    if (waiting_for_slot(m)) return;
    --direct_count_;
    if (m.ch[0].pending() || m.ch[1].pending()) {
      // materialize() failed: start over from todo/<id>, which is still
      // there (recipients already delivered get a second copy).
      unfresh(m);
      msgs_.erase(it);
      requeue_todo(id);
      return;
    }
    // Every recipient is delivered: qmail-clean removes todo/<id> first,
    // then intd and mess. Until its '+', todo_known_ keeps the id.
    clean_send('x', {id});
    logline("end msg " + std::to_string(id));
    unfresh(m);
    msgs_.erase(it);
    return;
  }
  if (m.bounce && !inject_bounce(m)) {
    recheck_.insert({now() + kTroubleDelay, id});
    return;
  }
  if (m.ch[0].pending() || m.ch[1].pending()) return;
  // Done. The lists go first: a crash after that leaves info/<id> without
  // lists, which a restart treats as done and finishes here. Then info;
  // then qmail-clean removes the mess file (and any intd/todo), while we go
  // on. A crash before the mess file is gone leaves it without info or
  // todo: sweep_mess() has it removed when it is old. While the mess file
  // exists no new message can have this id (its inode number), so the id
  // is never reused before every file of this message is gone.
  // The unlinks run on the Remover's thread; the message stays in msgs_
  // (removing, so not idle) until finish_removed() has its result.
  m.removing = true;
  remover_.submit(id, {q_.local(id), q_.remote(id), q_.info(id)});
}

// The Remover finished some messages' files: qmail-clean takes the rest.
void Send::finish_removed() {
  for (const Remover::Done& d : remover_.take()) {
    auto it = msgs_.find(d.id);
    if (it == msgs_.end()) continue;
    it->second.removing = false;
    if (!d.failed.empty()) {
      logline("warning: unable to unlink " + d.failed + "; will try again later");
      recheck_.insert({now() + kTroubleDelay, d.id});
      continue;
    }
    clean_send('x', {d.id});
    logline("end msg " + std::to_string(d.id));
    unfresh(it->second);
    msgs_.erase(it);
  }
}

// bounce/<id> is removed only after qmail-queue accepted the bounce. A
// crash in between sends the bounce twice, never zero times.
bool Send::inject_bounce(Msg& m) {
  std::string path = q_.bounce(m.id);
  auto text = fs::read_file(path, kMaxBounceFile);
  if (!text.is_ok()) {
    if (text.status().err() == ENOENT) {
      m.bounce = false;
      return true;
    }
    logline("warning: trouble reading " + path + "; will try again later");
    return false;
  }
  BouncePlan plan = plan_bounce(bounce_, m.sender, *text, ::time(nullptr));
  if (plan.discard) {
    logline("triple bounce: discarding bounce/" + std::to_string(m.id));
  } else {
    auto mess = fs::open_read(q_.mess(m.id));
    if (!mess.is_ok()) {
      logline("warning: unable to open mess/" + std::to_string(m.id % queue::kSplit) + "/" +
              std::to_string(m.id) + "; will try again later");
      return false;
    }
    auto sub = queue::Submission::start();
    if (!sub.is_ok()) {
      logline("warning: unable to start qmail-queue, will try again later");
      return false;
    }
    long qp = static_cast<long>(sub->pid());
    Status s = sub->put(plan.head);
    // The copy of the message, bounded by control/bouncemaxbytes.
    std::uint64_t left = bounce_.maxbytes ? bounce_.maxbytes : UINT64_MAX;
    char buf[65536];
    while (s.is_ok() && left > 0) {
      ssize_t n = ::read(mess->get(), buf,
                         static_cast<std::size_t>(std::min<std::uint64_t>(sizeof buf, left)));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        s = Status::temp_errno("read mess");
        break;
      }
      if (n == 0) break;
      s = sub->put(std::string_view(buf, static_cast<std::size_t>(n)));
      left -= static_cast<std::uint64_t>(n);
    }
    if (!s.is_ok()) {
      logline("warning: trouble injecting bounce message, will try again later");
      return false;  // ~Submission kills qmail-queue: nothing is queued
    }
    auto code = sub->finish(plan.envelope_sender, {plan.recipient});
    if (!code.is_ok() || *code != 0) {
      logline("warning: trouble injecting bounce message, will try again later");
      return false;
    }
    logline("bounce msg " + std::to_string(m.id) + " qp " + std::to_string(qp));
  }
  if (!fs::unlink(path).is_ok() || !fs::fsync_dir(q_.dir("bounce")).is_ok()) {
    logline("warning: unable to unlink " + path + "; will try again later");
    return false;
  }
  m.bounce = false;
  return true;
}

// Per-recipient checkpoint: 'T' -> 'D' in place. The fsync comes in
// sync_marks(), once per pass of the main loop for every list marked in
// it (group commit). Until then a crash makes us deliver to this
// recipient again (a duplicate, never a loss).
bool Send::mark_done(Msg& m, int c, std::size_t i) {
  const std::string path = c == 0 ? q_.local(m.id) : q_.remote(m.id);
  auto it = marked_.find(path);
  bool ok = true;
  if (it == marked_.end()) {
    auto fd = fs::open_rw(path);
    ok = fd.is_ok();
    if (ok) it = marked_.emplace(path, std::make_pair(m.id, std::move(*fd))).first;
  }
  if (ok) {
    ssize_t n;
    do {
      n = ::pwrite(it->second.second.get(), "D", 1, static_cast<off_t>(m.ch[c].rcpts[i].offset));
    } while (n < 0 && errno == EINTR);
    ok = n == 1;
  }
  if (!ok) {
    logline("warning: trouble marking " + path + "; will try again later");
    return false;
  }
  m.ch[c].rcpts[i].done = true;
  return true;
}

void Send::sync_marks() {
  if (marked_.empty()) return;
  std::vector<const Fd*> files;
  for (auto& [path, entry] : marked_) {
    // A message with nothing left to do (no recipient, no bounce) loses
    // its lists in check_message() right away: no point in fsyncing them.
    // A crash first is the same duplicate as a crash before the fsync.
    auto m = msgs_.find(entry.first);
    if (m != msgs_.end() && m->second.idle() && !m->second.bounce && !m->second.ch[0].pending() &&
        !m->second.ch[1].pending())
      continue;
    files.push_back(&entry.second);
  }
  if (!fs::fsync_all(files, {}).is_ok())
    logline("warning: trouble fsyncing recipient lists; a crash now would repeat deliveries");
  marked_.clear();
}

// A permanent failure is recorded in bounce/<id> (fsynced) before the
// recipient is marked done: a crash between the two retries the
// recipient, which may add a second paragraph, but never loses the bounce.
bool Send::append_bounce(Msg& m, std::string_view rcpt, std::string_view report) {
  std::string path = q_.bounce(m.id);
  bool existed = fs::exists(path);
  auto fd = fs::open_append(path, 0600);
  bool ok = fd.is_ok() &&
            io::write_all(fd->get(), bounce_paragraph(strip_vdom_prepend(controls_, rcpt), report))
                .is_ok() &&
            fs::fsync(*fd).is_ok() && (existed || fs::fsync_dir(q_.dir("bounce")).is_ok());
  if (!ok) {
    logline("alert: unable to append to bounce message; will try again later");
    return false;
  }
  m.bounce = true;
  return true;
}

// ---- deliveries ----------------------------------------------------------

void Send::dispatch(int c) {
  std::int64_t t = now();
  while (busy_[c] < conc_[c]) {
    if (!active_[c].empty()) {
      auto it = msgs_.find(active_[c].front());
      if (it == msgs_.end()) {
        active_[c].pop_front();
        continue;
      }
      Msg& m = it->second;
      std::size_t i = 0;
      for (; i < m.ch[c].rcpts.size(); ++i) {
        const Rcpt& r = m.ch[c].rcpts[i];
        if (!r.done && !r.busy && !r.tried) break;
      }
      if (i == m.ch[c].rcpts.size()) {
        active_[c].pop_front();
        if (m.ch[c].busy == 0) end_round(m, c);
        continue;
      }
      start_delivery(m, c, i);
      continue;
    }
    if (waiting_[c].empty() || waiting_[c].begin()->first > t) break;
    auto [when, id] = *waiting_[c].begin();
    waiting_[c].erase(waiting_[c].begin());
    waiting_at_[c].erase(id);
    auto it = msgs_.find(id);
    if (it == msgs_.end()) continue;
    unfresh(it->second, c);
    Chan& ch = it->second.ch[c];
    ch.in_round = true;
    ch.deferred = false;
    for (auto& r : ch.rcpts) r.tried = false;
    active_[c].push_back(id);
  }
}

void Send::start_delivery(Msg& m, int c, std::size_t i) {
  Rcpt& r = m.ch[c].rcpts[i];
  std::uint64_t d = next_delivery_++;
  r.busy = true;
  r.tried = true;
  ++m.ch[c].busy;
  ++busy_[c];
  jobs_[d] = {m.id, c, i};
  logline("starting delivery " + std::to_string(d) + ": msg " + std::to_string(m.id) + " to " +
          kChanName[c] + " " + spawn::log_text(r.addr));
  log_status();
  outbuf_[c] += spawn::encode(spawn::Command{d, m.id, verp_sender(m.sender, r.addr), r.addr});
  flush_spawn(c);
}

void Send::handle_reply(int c, const spawn::Reply& rep) {
  auto j = jobs_.find(rep.delivery);
  if (j == jobs_.end() || j->second.chan != c) {
    logline("warning: internal error: delivery report out of range");
    return;
  }
  Job job = j->second;
  jobs_.erase(j);
  --busy_[c];
  std::string d = std::to_string(rep.delivery);
  auto it = msgs_.find(job.id);
  QMAIL_CHECK(it != msgs_.end());
  Msg& m = it->second;
  Chan& ch = m.ch[c];
  Rcpt& r = ch.rcpts[job.rcpt];
  r.busy = false;
  --ch.busy;
  std::string text = spawn::log_text(rep.text);
  if (m.direct) {
    // Per-recipient checkpoints need files: a success while other
    // recipients are still pending, or any failure or deferral, writes
    // them now (materialize; the recipient just delivered is written
    // done). The last success finishes the message without them.
    if (rep.result == 'K') r.done = true;
    bool others = m.ch[0].pending() || m.ch[1].pending();
    bool ok = (rep.result == 'K' && !others) || materialize(m);
    if (rep.result == 'K' || !ok) {
      const char* what = rep.result == 'K'   ? "success: "
                         : rep.result == 'D' ? "failure: "
                                             : "deferral: ";
      logline("delivery " + d + ": " + what + text);
      // Left for check_message, which starts over from todo/<id>.
      if (!ok && rep.result != 'K') ch.deferred = true;
      log_status();
      if (ch.busy == 0 && ch.in_round && !ch.untried()) end_round(m, c);
      return;
    }
  }
  switch (rep.result) {
    case 'K':
      // The checkpoint comes before anything else, the log line included.
      if (!mark_done(m, c, job.rcpt)) ch.deferred = true;
      logline("delivery " + d + ": success: " + text);
      break;
    case 'D':
      logline("delivery " + d + ": failure: " + text);
      if (!append_bounce(m, r.addr, rep.text) || !mark_done(m, c, job.rcpt)) ch.deferred = true;
      break;
    default:
      // qmail-send(8), queuelifetime: after it, temporary failures are
      // permanent (logged as the failure they become, as qmail does).
      if (now() >= m.birth + static_cast<std::int64_t>(lifetime_)) {
        std::string why = rep.text;
        if (!why.empty() && why.back() != '\n') why += '\n';
        why += kGivingUp;
        logline("delivery " + d + ": failure: " + spawn::log_text(why));
        if (!append_bounce(m, r.addr, why) || !mark_done(m, c, job.rcpt)) ch.deferred = true;
      } else {
        logline("delivery " + d + ": deferral: " + text);
        ch.deferred = true;
      }
  }
  log_status();
  if (ch.busy == 0 && ch.in_round && !ch.untried()) end_round(m, c);
}

// A round (one attempt at every pending recipient of a channel) is over.
// If recipients remain, the next round is at next_retry(); the list's
// mtime records it so a restart keeps the schedule (best effort: a lost
// utime only makes the retry come early).
void Send::end_round(Msg& m, int c) {
  Chan& ch = m.ch[c];
  ch.in_round = false;
  for (auto it = active_[c].begin(); it != active_[c].end(); ++it)
    if (*it == m.id) {
      active_[c].erase(it);
      break;
    }
  if (m.direct) {
    // At once, even after TERM: the "x" must go out before we exit, or
    // the restart would deliver the message again.
    check_message(m.id);
    return;
  }
  if (ch.pending()) {
    std::int64_t t = now();
    std::int64_t when = next_retry(m.birth, t, kChanskip[c]);
    if (!ch.deferred) when = t;  // only trouble marking; nothing was deferred
    std::string path = c == 0 ? q_.local(m.id) : q_.remote(m.id);
    struct timeval tv[2] = {{static_cast<time_t>(when), 0}, {static_cast<time_t>(when), 0}};
    if (::utimes(path.c_str(), tv) != 0)
      logline("warning: unable to utime " + path + "; message will be retried early");
    if (!ch.deferred) when = t + kTroubleDelay;
    schedule(m, c, when);
  }
  recheck_.insert({0, m.id});
}

// ---- pipes -------------------------------------------------------------

// qmail-clean: one command, one byte back, in order. Requests are written
// and we go on; replies are read when they come (read_clean). A batch
// written at once is carried out by qmail-clean with one fsync.
void Send::clean_send(char cmd, const std::vector<std::uint64_t>& ids) {
  if (ids.empty()) return;
  std::string req;
  for (std::uint64_t id : ids) {
    req += cmd;
    req += std::to_string(id);
    req += '\0';
    clean_inflight_.push_back({cmd, id});
  }
  // A blocking write (set up in run()): qmail-clean reads at once, and its
  // replies never fill its pipe (we read them every pass).
  if (!io::write_all(kCleanOut, req).is_ok()) lost("qmail-clean");
}

// Whether a request for `id` is on its way to qmail-clean or waiting for
// a retry. A second "x" for an id must never be sent while the first may
// still free the mess file: a new message could get the inode number (the
// id) in between and lose its files to the second.
bool Send::clean_pending(std::uint64_t id) const {
  for (const auto& [cmd, pending] : clean_inflight_)
    if (pending == id) return true;
  for (const auto& [when, cmd, pending] : clean_retry_)
    if (pending == id) return true;
  return false;
}

// Returns false at EOF (qmail-clean is gone).
bool Send::read_clean() {
  char answers[4096];
  ssize_t n = ::read(kCleanIn, answers, sizeof answers);
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (n == 0) return false;
  for (ssize_t i = 0; i < n; ++i) {
    if (clean_inflight_.empty()) {
      logline("warning: internal error: unexpected reply from qmail-clean");
      continue;
    }
    auto [cmd, id] = clean_inflight_.front();
    clean_inflight_.pop_front();
    if (cmd == 'x' && answers[i] == '+' && !clean_pending(id)) {
      // Every request for this id is done: its files are gone, and a new
      // message may already have the freed inode number (the id) -- its
      // trigger may have come while the id was still known (a direct
      // message keeps its id in todo_known_ until now). Look again, for
      // that name only (with the inode pool nearly every id comes back:
      // a listing of todo/ here was O(n) per message).
      todo_known_.erase(id);
      if (fs::exists(q_.todo(id))) {
        todo_known_.insert(id);
        todo_.push_back(id);
      }
      continue;
    }
    if (answers[i] == '+') {
      if (cmd == 'i') todo_known_.erase(id);
      continue;
    }
    if (cmd == 'i')
      logline("warning: qmail-clean unable to clean up todo/" + std::to_string(id) +
              "; will try again later");
    else
      logline("warning: qmail-clean unable to clean up mess/" + std::to_string(id % queue::kSplit) +
              "/" + std::to_string(id) + "; will try again later");
    clean_retry_.insert({now() + kTroubleDelay, cmd, id});
  }
  return true;
}

void Send::flush_spawn(int c) {
  while (!outbuf_[c].empty()) {
    ssize_t n = ::write(kSpawnOut[c], outbuf_[c].data(), outbuf_[c].size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return;
      lost(kSpawnerName[c]);
    }
    outbuf_[c].erase(0, static_cast<std::size_t>(n));
  }
}

bool Send::read_spawn(int c) {
  char buf[65536];
  ssize_t n = ::read(kSpawnIn[c], buf, sizeof buf);
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (n == 0) return false;
  dec_[c].feed(std::string_view(buf, static_cast<std::size_t>(n)));
  for (;;) {
    auto r = dec_[c].next_reply();
    if (!r.is_ok()) {
      logline("warning: delivery report mangled from " + std::string(kSpawnerName[c]));
      return false;
    }
    if (!*r) break;
    handle_reply(c, **r);
  }
  return true;
}

std::int64_t Send::next_wakeup() const {
  std::int64_t w = next_scan_;
  for (int c = 0; c < 2; ++c)
    if (!waiting_[c].empty() && busy_[c] < conc_[c]) w = std::min(w, waiting_[c].begin()->first);
  if (!todo_retry_.empty()) w = std::min(w, todo_retry_.begin()->first);
  if (!recheck_.empty()) w = std::min(w, recheck_.begin()->first);
  if (!reload_.empty()) w = std::min(w, reload_.begin()->first);
  if (!clean_retry_.empty()) w = std::min(w, std::get<0>(*clean_retry_.begin()));
  return w;
}

Status Send::run() {
  // qmail-send(8): one qmail-send per queue.
  auto mutex = fs::open_rw(q_.sendmutex());
  if (!mutex.is_ok()) {
    mutex = Result<Fd>(Fd(::open(q_.sendmutex().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)));
    if (!mutex->valid()) {
      logline("alert: cannot start: unable to open lock/sendmutex");
      return Status::temp("unable to open lock/sendmutex");
    }
  }
  if (::flock(mutex->get(), LOCK_EX | LOCK_NB) != 0) {
    logline("alert: cannot start: qmail-send is already running");
    return Status::temp("qmail-send is already running");
  }
  Status cfg = load_config();
  if (!cfg.is_ok()) {
    logline("alert: cannot start: " + safe(cfg.message()));
    return cfg;
  }

  int sp[2];
  if (::pipe2(sp, O_CLOEXEC | O_NONBLOCK) != 0) return Status::temp_errno("pipe");
  Fd sig_r(sp[0]), sig_w(sp[1]);
  g_sig_w = sig_w.get();
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGTERM, SIGALRM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
  // qmail-start hands us TERM blocked; a TERM that came meanwhile is
  // delivered now, to the handler.
  sigset_t sigs;
  sigemptyset(&sigs);
  for (int sig : {SIGTERM, SIGALRM, SIGHUP}) sigaddset(&sigs, sig);
  ::sigprocmask(SIG_UNBLOCK, &sigs, nullptr);
  for (int c = 0; c < 2; ++c) {
    int fl = ::fcntl(kSpawnOut[c], F_GETFL);
    if (fl < 0) return Status::temp(std::string("descriptors are not set up: run qmail-start"));
    ::fcntl(kSpawnOut[c], F_SETFL, fl | O_NONBLOCK);
    ::fcntl(kSpawnIn[c], F_SETFL, ::fcntl(kSpawnIn[c], F_GETFL) | O_NONBLOCK);
  }
  ::fcntl(kCleanOut, F_SETFL, ::fcntl(kCleanOut, F_GETFL) & ~O_NONBLOCK);
  if (Status r = remover_.start(); !r.is_ok()) {
    logline("alert: cannot start: " + safe(r.message()));
    return r;
  }

  // Restart: everything preprocessed is loaded; todo/ is processed in
  // slices below. The watch first, so that nothing linked meanwhile is
  // missed.
  if (!todo_watch_.start(q_.dir("todo"))) logline("warning: no inotify; listing todo/ on pokes");
  scan_todo();
  scan_info();
  next_scan_ = now() + kTodoScanInterval;
  log_status();

  std::vector<pollfd> fds;
  for (;;) {
    if (g_term) {
      if (busy_total() == 0 && clean_inflight_.empty() && remover_.pending() == 0) {
        logline("status: exiting");
        return Status::ok();
      }
    }
    if (g_hup) {
      g_hup = 0;
      reload();
    }
    if (g_alrm) {
      // qmail-send(8): ALRM reschedules every message for immediate
      // delivery.
      g_alrm = 0;
      for (int c = 0; c < 2; ++c) {
        std::vector<std::uint64_t> ids;
        for (auto& [when, id] : waiting_[c]) ids.push_back(id);
        for (auto id : ids) schedule(msgs_.at(id), c, 0);
      }
    }
    std::int64_t t = now();
    if (!g_term) {
      if (t >= next_scan_) {
        scan_todo();
        next_scan_ = t + kTodoScanInterval;
      }
      if (t >= next_mess_sweep_) {
        sweep_mess();
        next_mess_sweep_ = t + queue::clean::kSweepInterval;
      }
      while (!todo_retry_.empty() && todo_retry_.begin()->first <= t) {
        std::uint64_t id = todo_retry_.begin()->second;
        todo_retry_.erase(todo_retry_.begin());
        todo_.push_back(id);
      }
      while (!clean_retry_.empty() && std::get<0>(*clean_retry_.begin()) <= t) {
        auto [when, cmd, id] = *clean_retry_.begin();
        clean_retry_.erase(clean_retry_.begin());
        clean_send(cmd, {id});
      }
      while (!reload_.empty() && reload_.begin()->first <= t) {
        std::uint64_t id = reload_.begin()->second;
        reload_.erase(reload_.begin());
        // Unless it is being taken from todo/ again: then look later.
        if (msgs_.count(id)) continue;
        if (!fs::exists(q_.todo(id))) {
          if (fs::exists(q_.info(id))) load_message(id);
        } else if (todo_known_.count(id))
          reload_.insert({t + kTroubleDelay, id});
      }
      while (!recheck_.empty() && recheck_.begin()->first <= t) {
        std::uint64_t id = recheck_.begin()->second;
        recheck_.erase(recheck_.begin());
        check_message(id);
      }
      // Deliveries already queued go first; then a bounded slice of new
      // mail, so a flood in todo/ cannot starve them.
      dispatch(0);
      dispatch(1);
      std::size_t n_parked = 0;
      std::vector<std::uint64_t> slice = take_slice(&n_parked);
      if (!slice.empty()) process_todo(slice, n_parked);
      dispatch(0);
      dispatch(1);
    }

    if (!trigger_.valid()) {
      trigger_.reset(::open(q_.trigger().c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
      // Hold a writer of our own, as qmail's trigger does: the FIFO then
      // never reaches EOF, so there is no moment between a close and a
      // reopen in which a qmail-queue's non-blocking open fails (ENXIO)
      // and its poke is lost.
      if (trigger_.valid())
        trigger_writer_.reset(::open(q_.trigger().c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    }
    fds.clear();
    fds.push_back({sig_r.get(), POLLIN, 0});
    fds.push_back({kSpawnIn[0], POLLIN, 0});
    fds.push_back({kSpawnIn[1], POLLIN, 0});
    fds.push_back({kSpawnOut[0], static_cast<short>(outbuf_[0].empty() ? 0 : POLLOUT), 0});
    fds.push_back({kSpawnOut[1], static_cast<short>(outbuf_[1].empty() ? 0 : POLLOUT), 0});
    // qmail-clean's replies; EOF means it died.
    fds.push_back({kCleanIn, static_cast<short>(clean_gone_ ? 0 : POLLIN), 0});
    fds.push_back({remover_.fd(), POLLIN, 0});
    fds.push_back({g_term ? -1 : todo_watch_.fd(), POLLIN, 0});
    if (trigger_.valid() && !g_term) fds.push_back({trigger_.get(), POLLIN, 0});
    int timeout = -1;
    // New mail waits while every channel it could go to is full: slots
    // freeing (a report) wake the loop.
    bool busy_work =
        !g_term && (can_take() || (!recheck_.empty() && recheck_.begin()->first <= now()));
    if (busy_work) {
      timeout = 0;
    } else if (!g_term) {
      std::int64_t w = next_wakeup() - now();
      timeout = w <= 0 ? 0 : static_cast<int>(std::min<std::int64_t>(w, 3600) * 1000);
    }
    flush_log();
    int n = ::poll(fds.data(), fds.size(), timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      logline("warning: trouble in select");
      continue;
    }
    if (fds[0].revents) {
      char buf[64];
      while (::read(sig_r.get(), buf, sizeof buf) > 0) {
      }
    }
    for (int c = 0; c < 2; ++c) {
      if (fds[1 + c].revents && !read_spawn(c)) lost(kSpawnerName[c]);
      if (fds[3 + c].revents & (POLLOUT | POLLERR)) flush_spawn(c);
    }
    // Every 'D' of the reports just read, in one go.
    sync_marks();
    if (fds[5].revents && !read_clean()) {
      // A TERM to the whole process group may reach qmail-clean first:
      // give ours a moment to arrive before calling it a loss. After TERM
      // its outstanding replies do not matter (a restart redoes them).
      pollfd sig{sig_r.get(), POLLIN, 0};
      flush_log();
      if (!g_term) (void)::poll(&sig, 1, 1000);
      if (!g_term) lost("qmail-clean");
      clean_inflight_.clear();
      clean_gone_ = true;
    }
    if (fds[6].revents) finish_removed();
    if (fds[7].revents) scan_new_todo();
    if (fds.size() > 8 && fds[8].revents) {
      char buf[256];
      ssize_t r = ::read(trigger_.get(), buf, sizeof buf);
      // EOF: every writer closed; reopen so poll does not spin on POLLHUP.
      if (r == 0 || (fds[8].revents & POLLHUP)) trigger_.reset();
      scan_new_todo();
    }
  }
}

}  // namespace

Status send_main(std::span<char*>) {
  Send s;
  return s.run();
}

}  // namespace qmail::send
