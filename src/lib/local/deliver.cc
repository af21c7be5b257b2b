#include "local/deliver.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "base/env.h"
#include "base/exit_codes.h"
#include "base/log.h"
#include "io/fd.h"
#include "io/io.h"
#include "local/forward.h"
#include "local/maildir.h"
#include "local/mbox.h"
#include "local/message.h"
#include "local/program.h"

namespace qmail::local {

namespace {

// All program output copied into one report (qmail-lspawn keeps the report
// in memory; many chatty program lines must not make it huge).
constexpr std::size_t kMaxReportOutput = 256 * 1024;

// maildir(5): the delivery program aborts after 24 hours.
constexpr unsigned kMaildirTimeoutSeconds = 24 * 60 * 60;

// Opens a .qmail candidate: an invalid Fd if it does not exist.
Result<Fd> open_qmail(const std::string& name) {
  Fd fd(::open(name.c_str(), O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC));
  if (fd.valid()) return fd;
  if (errno == ENOENT || errno == ENOTDIR) return Fd();
  return temp_sys("Unable to open " + name, errno, "4.3.0");
}

Result<bool> exists(const std::string& name) {
  struct stat st;
  if (::stat(name.c_str(), &st) == 0) return true;
  if (errno == ENOENT || errno == ENOTDIR) return false;
  return temp_sys("Unable to stat " + name, errno, "4.3.0");
}

// env::set, not setenv: a qmail-local worker sets these for every
// delivery (base/env.h).
Status setenv_checked(const char* name, std::string_view value) {
  env::set(name, value);
  return Status::ok();
}

struct Context {
  const Request& req;
  std::string recipient;
  std::string dt, rp, uf, newsender;
};

Status set_command_env(const Context& c, const Selection& sel) {
  const Request& r = c.req;
  QMAIL_RETURN_IF_ERROR(setenv_checked("USER", r.user));
  QMAIL_RETURN_IF_ERROR(setenv_checked("HOME", r.homedir));
  QMAIL_RETURN_IF_ERROR(setenv_checked("LOCAL", r.local));
  QMAIL_RETURN_IF_ERROR(setenv_checked("HOST", r.domain));
  std::string_view h = r.domain;
  const char* hosts[] = {"HOST2", "HOST3", "HOST4"};
  for (const char* name : hosts) {
    h = before_last_dot(h);
    QMAIL_RETURN_IF_ERROR(setenv_checked(name, h));
  }
  QMAIL_RETURN_IF_ERROR(setenv_checked("RECIPIENT", c.recipient));
  QMAIL_RETURN_IF_ERROR(setenv_checked("SENDER", r.sender));
  QMAIL_RETURN_IF_ERROR(setenv_checked("NEWSENDER", c.newsender));
  QMAIL_RETURN_IF_ERROR(setenv_checked("EXT", r.ext));
  std::string_view e = r.ext;
  const char* exts[] = {"EXT2", "EXT3", "EXT4"};
  for (const char* name : exts) {
    e = after_first_dash(e);
    QMAIL_RETURN_IF_ERROR(setenv_checked(name, e));
  }
  if (sel.default_part) {
    QMAIL_RETURN_IF_ERROR(setenv_checked("DEFAULT", *sel.default_part));
  } else {
    env::unset("DEFAULT");
  }
  QMAIL_RETURN_IF_ERROR(setenv_checked("DTLINE", c.dt));
  QMAIL_RETURN_IF_ERROR(setenv_checked("RPLINE", c.rp));
  QMAIL_RETURN_IF_ERROR(setenv_checked("UFLINE", c.uf));
  return Status::ok();
}

struct Counts {
  unsigned files = 0, forwards = 0, programs = 0;
  long qp = 0;  // of the qmail-queue that took the forwards
};

// Follows the instructions in order, forwards last; program output goes to
// `out_fd` as each program finishes.
Status deliver_all(const Context& c, const Selection& sel, int msgfd, int out_fd, Counts& n) {
  std::vector<std::string> forwards;
  const std::string prefix = c.rp + c.dt;
  bool skip_rest = false;
  std::size_t reported = 0;
  for (const Instruction& in : sel.instructions) {
    if (skip_rest) break;
    switch (in.kind) {
      case Kind::kMbox:
        QMAIL_RETURN_IF_ERROR(mbox::deliver(in.text, c.uf, prefix, msgfd));
        ++n.files;
        break;
      case Kind::kMaildir: {
        ::alarm(kMaildirTimeoutSeconds);  // SIGALRM's default action ends us
        auto name = maildir::deliver(in.text, prefix, msgfd);
        ::alarm(0);
        if (!name.is_ok()) return name.status();
        ++n.files;
        break;
      }
      case Kind::kProgram: {
        QMAIL_ASSIGN_OR_RETURN(ProgramResult r, run_shell(in.text, msgfd));
        const bool shown = !r.output.empty() && reported < kMaxReportOutput;
        if (shown) {
          std::string out = r.output.substr(0, kMaxReportOutput - reported);
          if (out.back() != '\n') out.push_back('\n');
          reported += out.size();
          (void)io::write_all(out_fd, out);
        }
        Outcome o = classify(r);
        if (o == Outcome::kSuccess || o == Outcome::kSuccessSkipRest) {
          ++n.programs;
          if (o == Outcome::kSuccessSkipRest) skip_rest = true;
          break;
        }
        // The program's own output (already in the report) is the reason;
        // say what happened when it gave none.
        std::string why;
        if (r.exec_failed) {
          why = "Unable to run /bin/sh: " + std::string(std::strerror(r.exec_errno)) + ". (#4.3.0)";
        } else if (r.signaled) {
          why = "Program crashed (signal " + std::to_string(r.code) + "). (#4.3.0)";
        } else if (!shown) {
          why = "Program exited with code " + std::to_string(r.code) +
                (o == Outcome::kPerm ? ". (#5.0.0)" : ". (#4.0.0)");
        }
        return o == Outcome::kPerm ? Status::perm(why) : Status::temp(why);
      }
      case Kind::kForward:
        forwards.push_back(in.text);
        ++n.forwards;
        break;
    }
  }
  // dot-qmail(5): forwarding is handled after all other instructions, so
  // any error there prevents all forwarding; lines before a 99 count.
  if (!forwards.empty()) {
    QMAIL_ASSIGN_OR_RETURN(n.qp, forward(msgfd, c.dt, c.newsender, forwards));
  }
  return Status::ok();
}

Status run_status(const Request& req, int msgfd, int out_fd) {
  if (req.homedir.empty() || req.homedir[0] != '/') {
    return Status::temp("Home directory is not an absolute path. (#4.3.0)");
  }
  if (::chdir(req.homedir.c_str()) != 0) {
    return temp_sys("Unable to switch to " + req.homedir, errno, "4.3.0");
  }
  QMAIL_RETURN_IF_ERROR(check_home(req.doit));
  QMAIL_ASSIGN_OR_RETURN(Selection sel, select(req));
  QMAIL_ASSIGN_OR_RETURN(std::string newsender, new_sender(req));

  if (!req.doit) {
    std::string out;
    for (const Instruction& in : sel.instructions) {
      out += std::string(kind_name(in.kind)) + ": " + in.text + "\n";
    }
    return io::write_all(out_fd, out);
  }

  Context c{req, req.local + "@" + req.domain, "", "", "", newsender};
  c.dt = dtline(c.recipient);
  c.rp = rpline(req.sender);
  c.uf = ufline(req.sender, std::time(nullptr));

  // qmail-local(8): a message that already has our Delivered-To line is
  // looping.
  std::string_view field(c.dt);
  field.remove_suffix(1);
  QMAIL_ASSIGN_OR_RETURN(bool looping, header_has_line(msgfd, field));
  if (looping) {
    return Status::perm("This message is looping: it already has my Delivered-To line. (#5.4.6)");
  }
  QMAIL_RETURN_IF_ERROR(set_command_env(c, sel));
  Counts n;
  QMAIL_RETURN_IF_ERROR(deliver_all(c, sel, msgfd, out_fd, n));
  // As qmail-local does: "did F+W+P", then the forward's "qp" (qmail-send
  // logs "did_0+1+0/qp_1234/", which ties the new message to this one).
  std::string did = "did " + std::to_string(n.files) + "+" + std::to_string(n.forwards) + "+" +
                    std::to_string(n.programs) + "\n";
  if (n.qp > 0) did += "qp " + std::to_string(n.qp) + "\n";
  return io::write_all(out_fd, did);
}

}  // namespace

Status check_home(bool doit) {
  struct stat st;
  if (::stat(".", &st) != 0) return temp_sys("Unable to stat home directory", errno, "4.3.0");
  if ((st.st_mode & S_ISVTX) && doit) {
    return Status::temp("Home directory is sticky: user is editing his .qmail file. (#4.2.1)");
  }
  if (st.st_mode & S_ISVTX) log::raw("Warning: home directory is sticky.");
  if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    return Status::temp("Uh-oh: home directory is writable. (#4.7.0)");
  }
  return Status::ok();
}

Result<Selection> select(const Request& req) {
  Selection sel;
  Fd fd;
  std::vector<Candidate> cands = candidates(req.dash, req.ext);
  for (const Candidate& cand : cands) {
    QMAIL_ASSIGN_OR_RETURN(fd, open_qmail(cand.name));
    if (fd.valid()) {
      sel.file = cand.name;
      if (cand.is_default) sel.default_part = cand.default_part;
      break;
    }
    // qmail-local(8): with an empty dash, a missing .qmail is an empty one.
    if (req.dash.empty()) break;
  }
  if (!fd.valid() && !req.dash.empty()) {
    return Status::perm("Sorry, no mailbox here by that name. (#5.1.1)");
  }
  std::string text;
  if (fd.valid()) {
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return temp_sys("Unable to stat " + sel.file, errno, "4.3.0");
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
      return Status::temp("Uh-oh: .qmail file is writable. (#4.7.0)");
    }
    if (!S_ISREG(st.st_mode)) {
      return Status::temp("Uh-oh: " + sel.file + " is not a regular file. (#4.2.1)");
    }
    sel.executable = (st.st_mode & S_IXUSR) != 0;
    auto read = io::read_all(fd.get(), kMaxDotQmail);
    if (!read.is_ok()) {
      // Too long or unreadable: the user can fix it, so defer.
      if (read.status().is_perm()) return Status::temp("Uh-oh: .qmail file is too long. (#4.2.1)");
      return temp_sys("Unable to read " + sel.file, read.status().err(), "4.3.0");
    }
    text = std::move(read.value());
  }
  if (text.empty()) {
    // dot-qmail(5): an empty or missing .qmail means defaultdelivery.
    text = req.defaultdelivery;
    sel.executable = false;
    if (!fd.valid()) sel.file.clear();
  }
  auto parsed = parse(text);
  if (!parsed.is_ok()) {
    const Status& s = parsed.status();
    return s.is_perm() ? Status::temp(s.message()) : s;
  }
  sel.instructions = std::move(parsed.value());
  if (sel.executable) {
    // dot-qmail(5): an executable .qmail may only forward. Checked before
    // anything is delivered, so a retry does not deliver twice.
    for (const Instruction& in : sel.instructions) {
      if (in.kind == Kind::kProgram) {
        return Status::temp("Uh-oh: .qmail has prog delivery but has x bit set. (#4.7.0)");
      }
      if (in.kind == Kind::kMbox || in.kind == Kind::kMaildir) {
        return Status::temp("Uh-oh: .qmail has file delivery but has x bit set. (#4.7.0)");
      }
    }
  }
  return sel;
}

Result<std::string> new_sender(const Request& req) {
  if (req.sender.empty() || req.sender == "#@[]") return req.sender;
  const std::string owner = ".qmail" + req.dash + safe_ext(req.ext) + "-owner";
  QMAIL_ASSIGN_OR_RETURN(bool has_owner, exists(owner));
  if (!has_owner) return req.sender;
  QMAIL_ASSIGN_OR_RETURN(bool has_verp, exists(owner + "-default"));
  if (has_verp) return req.local + "-owner-@" + req.domain + "-@[]";
  return req.local + "-owner@" + req.domain;
}

int run(const Request& req, int msgfd, int out_fd) {
  Status s = run_status(req, msgfd, out_fd);
  if (s.is_ok()) return exitcode::kOk;
  std::string msg = s.message();
  if (msg.empty() || msg.back() != '\n') msg.push_back('\n');
  if (msg != "\n") (void)io::write_all(out_fd, msg);
  return s.is_perm() ? exitcode::kPerm : exitcode::kTemp;
}

}  // namespace qmail::local
