// qmail-getpw(8): prints user\0uid\0gid\0homedir\0dash\0ext\0 for a local
// address that users/cdb does not assign.
#include <string>

#include "base/exit_codes.h"
#include "base/log.h"
#include "base/run_program.h"
#include "home/home.h"
#include "io/io.h"
#include "users/getpw.h"

namespace {

int getpw(std::span<char*> args) {
  // qmail-getpw(8): in case of trouble, exit nonzero without printing.
  if (args.size() < 2) return qmail::exitcode::kPerm;
  auto ids = qmail::home::load_ids();
  if (!ids.is_ok()) {
    qmail::log::warn(ids.status().message());
    return qmail::users::kQlxNoAlias;
  }
  qmail::users::GetpwConfig config;
  config.alias.user = "alias";
  config.alias.uid = ids->alias;
  config.alias.gid = ids->nofiles;  // INSTALL.ids: alias is in group nofiles
  config.alias.homedir = qmail::home::path("alias");
  config.system_users = !ids->single_user;
  auto e = qmail::users::getpw(args[1], config, qmail::users::find_system_user);
  if (!e.is_ok()) {
    qmail::log::warn(e.status().message());
    return e.status().message().starts_with("unable to stat") ? qmail::users::kQlxNfs
                                                              : qmail::users::kQlxSys;
  }
  std::string out;
  for (const std::string& f :
       {e->user, std::to_string(e->uid), std::to_string(e->gid), e->homedir, e->dash, e->ext}) {
    out += f;
    out += '\0';
  }
  if (!qmail::io::write_all(1, out).is_ok()) return qmail::users::kQlxSys;
  return qmail::exitcode::kOk;
}

}  // namespace

int main(int argc, char** argv) {
  return qmail::run_program("qmail-getpw", argc, argv, getpw, qmail::users::kQlxSys);
}
