#include "queue/qread.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <unordered_set>

#include "base/strings.h"
#include "fs/fs.h"
#include "queue/enqueue.h"
#include "queue/envelope.h"

namespace qmail::queue {

namespace {

// Queue files hold at most a few recipients' worth of text per recipient;
// this bound only stops a corrupt file from eating all memory.
inline constexpr std::size_t kMaxQueueFile = 256 * 1024 * 1024;

enum class Got { kOk, kGone, kTrouble };

// Reads a whole queue file, telling "gone" (ENOENT) from real trouble.
Got read_queue_file(const std::string& path, std::string& out, std::string& why,
                    std::time_t* mtime = nullptr) {
  auto fd = fs::open_read(path);
  if (!fd.is_ok()) {
    if (fd.status().err() == ENOENT) return Got::kGone;
    why = fd.status().message();
    return Got::kTrouble;
  }
  if (mtime) {
    struct stat st;
    if (::fstat(fd->get(), &st) != 0) {
      why = "unable to stat " + path;
      return Got::kTrouble;
    }
    *mtime = st.st_mtime;
  }
  std::string data;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd->get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      why = "unable to read " + path;
      return Got::kTrouble;
    }
    if (n == 0) break;
    if (data.size() + static_cast<std::size_t>(n) > kMaxQueueFile) {
      why = path + " is too long";
      return Got::kTrouble;
    }
    data.append(buf, static_cast<std::size_t>(n));
  }
  out = std::move(data);
  return Got::kOk;
}

// Names in `dir` that are message ids.
Result<std::vector<std::uint64_t>> ids_in(const std::string& dir) {
  QMAIL_ASSIGN_OR_RETURN(auto names, fs::list_dir(dir));
  std::vector<std::uint64_t> ids;
  for (const auto& n : names)
    if (auto id = str::parse_uint(n)) ids.push_back(*id);
  return ids;
}

// "T<addr>\0" / "D<addr>\0" records of local/ or remote/.
void add_recipients(std::string_view data, QueuedRecipient::Channel ch,
                    std::vector<QueuedRecipient>& out) {
  while (!data.empty()) {
    std::size_t nul = data.find('\0');
    if (nul == std::string_view::npos) break;  // being written: not a record yet
    std::string_view rec = data.substr(0, nul);
    data.remove_prefix(nul + 1);
    if (rec.empty() || (rec[0] != 'T' && rec[0] != 'D')) continue;
    out.push_back({ch, rec[0] == 'D', std::string(rec.substr(1))});
  }
}

std::string printable(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c < 32 || c > 126) c = '_';
  return out;
}

}  // namespace

Result<QueueScan> scan_queue(const Layout& q) {
  QueueScan scan;
  auto trouble = [&](std::uint64_t id, const std::string& why) {
    scan.warnings.push_back("trouble with #" + std::to_string(id) + ": " + why);
  };
  // Reads the message's first file (info or todo) into `data`, with its
  // mtime as the time queued, and the size of its mess file. False when
  // the message is gone (finished meanwhile) or in trouble (warned).
  auto load = [&](QueuedMessage& m, const std::string& path, std::string& data) {
    std::string why;
    Got g = read_queue_file(path, data, why, &m.queued);
    if (g == Got::kTrouble) trouble(m.id, why);
    if (g != Got::kOk) return false;
    struct stat st;
    if (::stat(q.mess(m.id).c_str(), &st) != 0) {
      if (errno != ENOENT) trouble(m.id, "unable to stat mess file");
      return false;
    }
    m.size = static_cast<std::uint64_t>(st.st_size);
    return true;
  };

  // todo is listed before info: messages only move from todo to info, so
  // one that stays in the queue throughout is seen in at least one of them.
  QMAIL_ASSIGN_OR_RETURN(auto todo_ids, ids_in(q.dir("todo")));
  std::vector<std::uint64_t> info_ids;
  for (std::uint64_t s = 0; s < kSplit; ++s) {
    QMAIL_ASSIGN_OR_RETURN(auto ids, ids_in(q.split_dir("info", s)));
    info_ids.insert(info_ids.end(), ids.begin(), ids.end());
  }
  for (auto id : info_ids) {
    QueuedMessage m;
    m.id = id;
    std::string info, why;
    if (!load(m, q.info(id), info)) continue;
    struct stat st;
    m.bouncing = ::stat(q.bounce(id).c_str(), &st) == 0;
    std::string_view f(info);
    if (!f.empty() && f[0] == 'F') f.remove_prefix(1);
    m.sender = std::string(f.substr(0, f.find('\0')));
    for (auto ch : {QueuedRecipient::Channel::kLocal, QueuedRecipient::Channel::kRemote}) {
      std::string data;
      std::string path = ch == QueuedRecipient::Channel::kLocal ? q.local(id) : q.remote(id);
      Got r = read_queue_file(path, data, why);
      if (r == Got::kTrouble) trouble(id, why);
      if (r == Got::kOk) add_recipients(data, ch, m.recipients);
    }
    scan.messages.push_back(std::move(m));
  }

  // Messages qmail-send has not preprocessed yet.
  std::unordered_set<std::uint64_t> have(info_ids.begin(), info_ids.end());
  for (auto id : todo_ids) {
    if (have.count(id)) continue;
    QueuedMessage m;
    m.id = id;
    m.preprocessed = false;
    std::string data;
    if (!load(m, q.todo(id), data)) continue;
    auto env = parse_queue_envelope(data);
    if (!env.is_ok()) {
      trouble(id, env.status().message());
      continue;
    }
    m.sender = std::move(env->sender);
    for (auto& r : env->recipients)
      m.recipients.push_back({QueuedRecipient::Channel::kTodo, false, std::move(r)});
    scan.messages.push_back(std::move(m));
  }

  std::sort(scan.messages.begin(), scan.messages.end(),
            [](const QueuedMessage& a, const QueuedMessage& b) {
              return a.queued != b.queued ? a.queued < b.queued : a.id < b.id;
            });
  return scan;
}

std::string format_qread(const QueuedMessage& m) {
  std::string date = date822(m.queued);
  date.resize(date.size() - 6);  // drop " -0000"
  std::string out = date + " GMT  #" + std::to_string(m.id) + "  " + std::to_string(m.size) +
                    "  <" + printable(m.sender) + "> ";
  if (m.bouncing) out += " bouncing";
  if (!m.preprocessed) out += " preprocessing";
  out += '\n';
  for (const auto& r : m.recipients) {
    if (r.done) out += "  done";
    switch (r.channel) {
      case QueuedRecipient::Channel::kLocal:
        out += "\tlocal\t";
        break;
      case QueuedRecipient::Channel::kRemote:
        out += "\tremote\t";
        break;
      case QueuedRecipient::Channel::kTodo:
        out += "\ttodo\t";
        break;
    }
    out += printable(r.address);
    out += '\n';
  }
  return out;
}

Result<QueueCounts> count_queue(const Layout& q) {
  QueueCounts c;
  for (std::uint64_t s = 0; s < kSplit; ++s) {
    QMAIL_ASSIGN_OR_RETURN(auto names, fs::list_dir(q.split_dir("mess", s)));
    c.messages += names.size();
  }
  QMAIL_ASSIGN_OR_RETURN(auto todo, fs::list_dir(q.dir("todo")));
  c.todo = todo.size();
  return c;
}

std::string format_qstat(const QueueCounts& c) {
  return "messages in queue: " + std::to_string(c.messages) +
         "\nmessages in queue but not yet preprocessed: " + std::to_string(c.todo) + "\n";
}

}  // namespace qmail::queue
