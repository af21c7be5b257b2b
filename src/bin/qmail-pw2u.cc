// qmail-pw2u(8): turns a V7 passwd file on stdin into users/assign text on
// stdout.
#include <unistd.h>

#include <string>

#include "base/exit_codes.h"
#include "base/log.h"
#include "base/run_program.h"
#include "home/home.h"
#include "io/io.h"
#include "users/getpw.h"

namespace {

// A passwd file is read whole; this bounds it.
constexpr std::size_t kMaxPasswd = 256 * 1024 * 1024;

int pw2u(std::span<char*> args) {
  qmail::users::Pw2uOptions opt;
  for (std::size_t i = 1; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a == "--") break;
    if (a.size() < 2 || a[0] != '-') {
      qmail::log::fatal("usage: qmail-pw2u [-/ohHuUC] [-cchar]");
      return qmail::exitcode::kPerm;
    }
    for (std::size_t j = 1; j < a.size(); ++j) {
      switch (a[j]) {
        case '/':
          opt.slash = true;
          break;
        case 'o':
          opt.home_strategy = 2;
          break;
        case 'h':
          opt.home_strategy = 1;
          break;
        case 'H':
          opt.home_strategy = 0;
          break;
        case 'u':
          opt.allow_upper = true;
          break;
        case 'U':
          opt.allow_upper = false;
          break;
        case 'C':
          opt.brk = '\0';
          break;
        case 'c':
          // -cchar or -c char, like getopt.
          if (j + 1 < a.size()) {
            opt.brk = a[j + 1];
          } else if (i + 1 < args.size()) {
            opt.brk = args[++i][0];
          } else {
            qmail::log::fatal("usage: qmail-pw2u [-/ohHuUC] [-cchar]");
            return qmail::exitcode::kPerm;
          }
          j = a.size();
          break;
        default:
          qmail::log::fatal("usage: qmail-pw2u [-/ohHuUC] [-cchar]");
          return qmail::exitcode::kPerm;
      }
    }
  }
  auto files = qmail::users::read_pw2u_files(qmail::home::path("users"));
  if (!files.is_ok()) {
    qmail::log::fatal(files.status().message());
    return qmail::exitcode::kTemp;
  }
  std::optional<qmail::users::Entry> alias;
  if (auto ids = qmail::home::load_ids(); ids.is_ok()) {
    alias =
        qmail::users::Entry{"alias", ids->alias, ids->nofiles, qmail::home::path("alias"), "", ""};
  }
  auto in = qmail::io::read_all(0, kMaxPasswd);
  if (!in.is_ok()) {
    qmail::log::fatal("unable to read input: " + in.status().message());
    return qmail::exitcode::kTemp;
  }
  auto out = qmail::users::pw2u(*in, opt, *files, alias, qmail::users::stat_owner);
  if (!out.is_ok()) {
    qmail::log::fatal(out.status().message());
    return qmail::exitcode::kTemp;
  }
  if (!qmail::io::write_all(1, *out).is_ok()) {
    qmail::log::fatal("unable to write output");
    return qmail::exitcode::kTemp;
  }
  return qmail::exitcode::kOk;
}

}  // namespace

int main(int argc, char** argv) { return qmail::run_program("qmail-pw2u", argc, argv, pw2u); }
