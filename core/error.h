// Error types shared by every part of uda.
//
// A UserError is a mistake the user can fix (bad config, missing file,
// corrupt input). It is printed as one line
//   uda: error: <what> (<where>): <how to fix>
// and the process exits with kExitUserError. Anything else is an internal
// error (exit kExitInternalError) and is printed with its context.
#pragma once

#include <stdexcept>
#include <string>

namespace uda {

// Process exit codes (documented in docs/CLI.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitInternalError = 1;
inline constexpr int kExitUserError = 2;
// Training stopped on a preemption signal after writing a checkpoint; the
// launcher (or the SLURM batch script) requeues the job. Chosen outside the
// range shells and MPI use for signals (128+N) and common tool codes.
inline constexpr int kExitRequeue = 75;  // EX_TEMPFAIL from sysexits.h

class UserError : public std::runtime_error {
 public:
  UserError(std::string what, std::string where, std::string fix);

  const std::string& what_part() const { return what_; }
  const std::string& where() const { return where_; }
  const std::string& fix() const { return fix_; }
  // The one-line message without the "uda: error: " prefix.
  std::string line() const;

 private:
  std::string what_, where_, fix_;
};

// What every user-error line starts with.
inline constexpr const char* kUserErrorPrefix = "uda: error: ";

// Formats the full one-line message printed for a UserError.
std::string format_user_error(const UserError& e);

}  // namespace uda
