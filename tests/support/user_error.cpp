#include "tests/support/user_error.h"

#include <gtest/gtest.h>

#include <iostream>
#include <sstream>

namespace uda::test {

CommandResult train_toy(const std::string& config, const std::vector<std::string>& sets, const std::string& work_dir,
                        const std::string& cwd) {
  // OMP_WAIT_POLICY=PASSIVE: the run ends at setup; no spinning threads.
  std::vector<std::string> argv{"env",   "OMP_WAIT_POLICY=PASSIVE",
                                UDA_BINARY, "--log-level",
                                "warn",  "train",
                                std::string(UDA_SOURCE_DIR) + "/configs/toy/" + config + ".json",
                                "--nproc", "1",
                                "--work-dir", work_dir};
  for (const auto& s : sets) argv.insert(argv.end(), {"--set", s});
  return run_command(argv, cwd);
}

std::string expect_user_error_line(const CommandResult& r, const std::string& key, const std::string& fix,
                                   const std::string& what) {
  EXPECT_EQ(r.exit_code, 2) << what << ": " << r.err;
  std::string line, found;
  int lines = 0, mentions = 0;
  for (std::istringstream in(r.err); std::getline(in, line);) {
    if (line.rfind("uda: error: ", 0) == 0 && lines++ == 0) found = line;
    if (line.find("uda: error:") != std::string::npos) ++mentions;
  }
  // The launcher's own line, said once: not repeated by the rank's console
  // log, the launcher's failure report or mpirun's banner.
  EXPECT_EQ(lines, 1) << what << ": one line starting \"uda: error: \" expected\n" << r.err;
  EXPECT_EQ(mentions, 1) << what << ": the error said more than once\n" << r.err;
  EXPECT_EQ(r.err.find("mpirun"), std::string::npos) << what << ": mpirun's banner\n" << r.err;
  EXPECT_NE(found.find(key), std::string::npos) << found;
  EXPECT_NE(found.find(fix), std::string::npos) << found;
  std::cout << "[error] " << what << ": " << found << "\n";
  return found;
}

}  // namespace uda::test
