#include "launcher/shell_quote.h"

#include "core/error.h"

#include <regex>

namespace uda::cli {

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

std::string shell_join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) out += ' ';
    out += shell_quote(w);
  }
  return out;
}

void require_match(const std::string& field, const std::string& value, const std::string& pattern,
                   const std::string& allowed) {
  // Newlines and NULs never pass, whatever the pattern: a #SBATCH line must
  // stay one line.
  const bool bad_char = value.find_first_of(std::string("\n\r\0", 3)) != std::string::npos;
  if (bad_char || !std::regex_match(value, std::regex(pattern))) {
    std::string shown = value.size() > 60 ? value.substr(0, 60) + "..." : value;
    for (auto& c : shown)
      if (c == '\n' || c == '\r' || c == '\0') c = '?';
    throw UserError("invalid value '" + shown + "' for a SLURM batch script", field, "use " + allowed);
  }
}

}  // namespace uda::cli
