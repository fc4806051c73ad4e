// What `uda collect` and the sweep estimate read from a run directory:
// the resolved config, the evaluations, the final evaluation, the sweep's
// record of how the run was made, and whether it finished.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace uda::cli {

struct RunRecord {
  std::string dir;
  std::map<std::string, nlohmann::json> config;  // flattened config.json (dotted keys)
  std::vector<nlohmann::json> evals;              // eval.jsonl, in order
  nlohmann::json final_eval;                      // final_eval.json (null if absent)
  nlohmann::json sweep;                           // sweep_overrides.json (null if absent)
  bool done = false;                              // DONE present
};

RunRecord read_run(const std::string& dir);
// Every run directory (holding config.json) directly under `dir`, or `dir`
// itself when it is one; sorted by path.
std::vector<RunRecord> read_runs(const std::string& dir);

// The JSON objects of a .jsonl file, in order; lines that do not parse (a
// line being written) are left out. Empty when the file is absent.
std::vector<nlohmann::json> read_jsonl(const std::string& path);

}  // namespace uda::cli
