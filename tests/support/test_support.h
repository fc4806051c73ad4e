// Helpers shared by the test binaries.
#pragma once

#include <string>
#include <vector>

namespace uda::test {

// A fresh temporary directory, removed when the object goes out of scope.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs `uda` (the binary under test) with `args`, capturing both streams.
CommandResult run_uda(const std::vector<std::string>& args, const std::string& cwd = "");
// Runs an arbitrary argv, capturing both streams.
CommandResult run_command(const std::vector<std::string>& argv, const std::string& cwd = "");

void write_text(const std::string& path, const std::string& text);
std::string read_text(const std::string& path);

}  // namespace uda::test
