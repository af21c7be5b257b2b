#include <algorithm>

#include "base/strings.h"
#include "fs/fs.h"
#include "home/home.h"
#include "setup/setup.h"

namespace qmail::setup {

namespace {

Status put(const std::string& home, const std::string& name, const std::string& value,
           std::vector<std::string>* report) {
  report->push_back("Putting " + value + " into control/" + name + "...");
  return fs::write_file_durable(home + "/control/" + name, value + "\n", 0644);
}

// Adds `value` as a line of control/`name` unless some line already is it.
Status add_line(const std::string& home, const std::string& name, const std::string& value,
                std::vector<std::string>* report) {
  std::string path = home + "/control/" + name;
  std::string text;
  auto old = fs::read_file(path, control::kMaxControlFile);
  if (old.is_ok()) {
    text = *old;
  } else if (old.status().err() != ENOENT) {
    return old.status();
  }
  for (auto line : str::split(text, '\n')) {
    if (str::trim(line) == value) {
      report->push_back(value + " is already in control/" + name + ".");
      return Status::ok();
    }
  }
  if (!text.empty() && text.back() != '\n') text += '\n';
  text += value + "\n";
  report->push_back("Putting " + value + " into control/" + name + "...");
  return fs::write_file_durable(path, text, 0644);
}

}  // namespace

std::string default_domain(std::string_view fqdn) {
  // config-fast: "a.b.c..." becomes "b.c..."; with fewer than three labels
  // the name stays.
  std::size_t first = fqdn.find('.');
  if (first == std::string_view::npos) return std::string(fqdn);
  if (fqdn.find('.', first + 1) == std::string_view::npos) return std::string(fqdn);
  return std::string(fqdn.substr(first + 1));
}

std::string plus_domain(std::string_view fqdn) {
  // config-fast: the last two labels, when there are at least three.
  std::size_t last = fqdn.rfind('.');
  if (last == std::string_view::npos || last == 0) return std::string(fqdn);
  std::size_t second = fqdn.rfind('.', last - 1);
  if (second == std::string_view::npos) return std::string(fqdn);
  return std::string(fqdn.substr(second + 1));
}

Status config_fast(const std::string& home, std::string_view fqdn,
                   std::vector<std::string>* report) {
  if (fqdn.empty()) return Status::perm("the host name is empty");
  for (char c : fqdn) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 127 || c == '/' || c == '@')
      return Status::perm("bad character in host name");
  }
  std::string host = str::lower(fqdn);
  std::string control = home + "/control";
  if (!fs::exists(control)) return Status::temp(control + " does not exist: run qmail-setup first");
  report->push_back("Your fully qualified host name is " + host + ".");
  QMAIL_RETURN_IF_ERROR(put(home, "me", host, report));
  QMAIL_RETURN_IF_ERROR(put(home, "defaultdomain", default_domain(host), report));
  QMAIL_RETURN_IF_ERROR(put(home, "plusdomain", plus_domain(host), report));
  QMAIL_RETURN_IF_ERROR(add_line(home, "locals", host, report));
  QMAIL_RETURN_IF_ERROR(add_line(home, "rcpthosts", host, report));
  report->push_back("Now qmail will refuse to accept SMTP messages except to " + host + ".");
  report->push_back("Make sure to change rcpthosts if you add hosts to locals or virtualdomains!");
  return Status::ok();
}

}  // namespace qmail::setup
