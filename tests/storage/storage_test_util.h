// Helpers shared by the storage tests: Python with torch, and the parity
// fixture's .pth files rebuilt once per build folder.
#pragma once

#include <string>
#include <vector>

namespace uda::storage_test {

// "/usr/bin/python3" when it can import torch and numpy, else "".
const std::string& python_with_torch();
// Runs `python -c script` (args appended); returns its exit code, stdout in *out.
int run_python(const std::string& script, const std::vector<std::string>& args, std::string* out);
// The parity fixture folder (env UDA_PARITY_DIR, else the default next to the repo).
std::string parity_dir();
// <build>/parity-weights with the four .pth files, rebuilt by
// scripts/rebuild_parity_weights.py on first use (file lock: concurrent
// test processes wait for one rebuild). Throws when the rebuild fails.
// A stamp file marks a verified folder (delete it to force a re-check).
std::string parity_weights_dir();
// Whether parity_weights_dir() can succeed (already built, or Python with torch present).
bool parity_weights_available();

}  // namespace uda::storage_test
