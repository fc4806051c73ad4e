// Shell quoting and whitelist validation of values placed in generated
// shell scripts (the SLURM batch script).
#pragma once

#include <string>
#include <vector>

namespace uda::cli {

// One POSIX-shell word that expands to exactly `s`: single-quoted, with
// embedded single quotes written as '\''. Safe for any byte string.
std::string shell_quote(const std::string& s);
// The words quoted and joined by spaces.
std::string shell_join(const std::vector<std::string>& words);

// Throws UserError(what: `field` has an invalid value) unless `value` fully
// matches the ECMAScript regex `pattern`; `allowed` describes the pattern
// for the message.
void require_match(const std::string& field, const std::string& value, const std::string& pattern,
                   const std::string& allowed);

}  // namespace uda::cli
