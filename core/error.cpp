#include "core/error.h"

namespace uda {

namespace {
std::string compose(const std::string& what, const std::string& where, const std::string& fix) {
  std::string s = what;
  if (!where.empty()) s += " (" + where + ")";
  if (!fix.empty()) s += ": " + fix;
  return s;
}
}  // namespace

UserError::UserError(std::string what, std::string where, std::string fix)
    : std::runtime_error(compose(what, where, fix)),
      what_(std::move(what)),
      where_(std::move(where)),
      fix_(std::move(fix)) {}

std::string UserError::line() const { return compose(what_, where_, fix_); }

std::string format_user_error(const UserError& e) { return kUserErrorPrefix + e.line(); }

}  // namespace uda
