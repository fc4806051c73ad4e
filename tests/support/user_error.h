// The shape every bad-input test checks: `uda train` of a toy config with
// overrides fails with exit code 2 and one "uda: error: " line that names
// the key (or file) and holds the fix.
#pragma once

#include "tests/support/test_support.h"

#include <string>
#include <vector>

namespace uda::test {

// `uda train configs/toy/<config>.json --nproc 1 --work-dir <work_dir>` with
// each of `sets` as `--set`, run in `cwd` (relative data paths resolve there).
CommandResult train_toy(const std::string& config, const std::vector<std::string>& sets, const std::string& work_dir,
                        const std::string& cwd);

// Expects (gtest EXPECTs) exit code 2 and a "uda: error: " line holding
// `key` and `fix`; prints the line (tagged by `what`) and returns it.
std::string expect_user_error_line(const CommandResult& r, const std::string& key, const std::string& fix,
                                   const std::string& what);

}  // namespace uda::test
