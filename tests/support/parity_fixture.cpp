#include "tests/support/parity_fixture.h"

#include "tests/support/test_support.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace uda::test {
namespace fs = std::filesystem;

std::string parity_dir() {
  const char* env = std::getenv("UDA_PARITY_DIR");
  const std::string dir = env && *env ? env : UDA_PARITY_DIR_DEFAULT;
  if (!fs::exists(fs::path(dir) / "golden.h5"))
    throw std::runtime_error("parity fixture set not found: " + dir + "/golden.h5 does not exist" +
                             (env && *env ? " (UDA_PARITY_DIR); point it at a folder holding golden.h5 and its "
                                            "*.weights.json manifests"
                                          : "; build the target uda_parity_fixture (it joins tests/fixtures/parity)"));
  return dir;
}

std::string parity_golden() { return parity_dir() + "/golden.h5"; }

std::vector<ParityManifest> parity_manifests() {
  std::vector<ParityManifest> out;
  const std::string suffix = ".weights.json";
  for (const auto& e : fs::directory_iterator(parity_dir())) {
    const std::string name = e.path().filename().string();
    if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    ParityManifest m;
    m.path = e.path().string();
    m.json = nlohmann::json::parse(read_text(m.path));
    m.file = m.json.at("file").get<std::string>();
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  return out;
}

ParityManifest parity_manifest_for(const std::string& pth_file) {
  std::string files;
  for (auto& m : parity_manifests()) {
    if (m.file == pth_file) return m;
    files += " " + m.file;
  }
  throw std::runtime_error("the parity set " + parity_dir() + " has no manifest for " + pth_file +
                           " (manifests describe:" + files + ")");
}

const std::string& python_with_torch() {
  static const std::string python = [] {
    // Debian's interpreter first: a pyenv shim earlier in PATH may lack torch.
    const char* env = std::getenv("UDA_PYTHON");
    std::vector<std::string> candidates{"/usr/bin/python3", "python3"};
    if (env && *env) candidates.insert(candidates.begin(), env);
    for (const auto& p : candidates)
      if (run_command({p, "-c", "import torch, numpy"}).exit_code == 0) return p;
    return std::string();
  }();
  if (python.empty())
    throw std::runtime_error("no python3 that imports torch and numpy: install Debian's python3-torch and "
                             "python3-numpy (scripts/install-deps.sh) or set UDA_PYTHON");
  return python;
}

std::string parity_weights(const std::string& pth_file) {
  const ParityManifest m = parity_manifest_for(pth_file);
  const std::string bytes = read_text(m.path);
  char key[17];
  std::snprintf(key, sizeof key, "%016llx", static_cast<unsigned long long>(XXH64(bytes.data(), bytes.size(), 0)));
  const std::string stem = fs::path(m.path).filename().string();
  // Test binaries sit in the build folder (CMAKE_RUNTIME_OUTPUT_DIRECTORY).
  const fs::path out =
      fs::canonical("/proc/self/exe").parent_path() / "parity-weights" / (stem.substr(0, stem.find('.')) + "-" + key);
  const fs::path target = out / m.file, stamp = out / ".verified";
  if (fs::exists(stamp) && fs::exists(target)) return target.string();
  fs::create_directories(out);
  int fd = ::open((out / ".lock").c_str(), O_RDWR | O_CREAT, 0644);
  if (fd < 0 || ::flock(fd, LOCK_EX) != 0) throw std::runtime_error("cannot lock " + out.string());
  CommandResult r;
  if (!fs::exists(stamp) || !fs::exists(target)) {
    r = run_command({python_with_torch(), std::string(UDA_SOURCE_DIR) + "/scripts/rebuild_parity_weights.py",
                     out.string(), m.path});
    if (r.exit_code == 0) write_text(stamp.string(), r.out);
  } else {
    r.exit_code = 0;
  }
  ::flock(fd, LOCK_UN);
  ::close(fd);
  if (r.exit_code != 0)
    throw std::runtime_error("scripts/rebuild_parity_weights.py failed for " + m.path + ": " + r.err + r.out);
  return target.string();
}

}  // namespace uda::test
