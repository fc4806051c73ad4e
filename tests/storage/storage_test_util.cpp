#include "tests/storage/storage_test_util.h"

#include "tests/support/test_support.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace uda::storage_test {

const std::string& python_with_torch() {
  static const std::string python = [] {
    // Debian's interpreter: a pyenv shim earlier in PATH may lack torch.
    for (const char* p : {"/usr/bin/python3", "python3"}) {
      auto r = uda::test::run_command({p, "-c", "import torch, numpy"});
      if (r.exit_code == 0) return std::string(p);
    }
    return std::string();
  }();
  return python;
}

int run_python(const std::string& script, const std::vector<std::string>& args, std::string* out) {
  std::vector<std::string> argv{python_with_torch(), "-c", script};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = uda::test::run_command(argv);
  if (out) *out = r.out;
  if (r.exit_code != 0) fprintf(stderr, "python failed (%d):\n%s\n", r.exit_code, r.err.c_str());
  return r.exit_code;
}

bool parity_weights_available() {
  namespace fs = std::filesystem;
  fs::path stamp = fs::canonical("/proc/self/exe").parent_path() / "parity-weights" / ".verified";
  return fs::exists(stamp) || !python_with_torch().empty();
}

std::string parity_dir() {
  const char* env = std::getenv("UDA_PARITY_DIR");
  return env && *env ? env : UDA_PARITY_DIR_DEFAULT;
}

std::string parity_weights_dir() {
  namespace fs = std::filesystem;
  // Test binaries sit in the build folder (CMAKE_RUNTIME_OUTPUT_DIRECTORY).
  fs::path build = fs::canonical("/proc/self/exe").parent_path();
  fs::path out = build / "parity-weights";
  fs::create_directories(out);
  static bool done = false;
  // A stamp written after a successful rebuild/verification: later test
  // processes skip starting Python (importing torch takes seconds).
  fs::path stamp = out / ".verified";
  if (done || fs::exists(stamp)) return out.string();
  int fd = ::open((out / ".lock").c_str(), O_RDWR | O_CREAT, 0644);
  if (fd < 0 || ::flock(fd, LOCK_EX) != 0) throw std::runtime_error("cannot lock " + out.string());
  auto r = uda::test::run_command({python_with_torch(), std::string(UDA_SOURCE_DIR) + "/scripts/rebuild_parity_weights.py",
                                   parity_dir(), out.string()});
  ::flock(fd, LOCK_UN);
  ::close(fd);
  if (r.exit_code != 0) throw std::runtime_error("rebuild_parity_weights.py failed: " + r.err + r.out);
  uda::test::write_text(stamp.string(), r.out);
  done = true;
  return out.string();
}

}  // namespace uda::storage_test
