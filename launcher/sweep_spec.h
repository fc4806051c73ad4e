// Sweep files (DESIGN.md "Sweep files"): a base config, a grid over dotted
// keys, seeded random draws, seeds, and how to run them. Expanding a sweep
// gives the override lists of its runs, in a fixed order.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace uda::cli {

struct SweepSpec {
  std::string name = "sweep";
  std::string base;                 // base config file, resolved
  nlohmann::json set = nlohmann::json::object();  // fixed overrides for every run
  nlohmann::json grid = nlohmann::json::object();  // key -> list of values
  int random_n = 0;
  uint64_t random_seed = 0;
  nlohmann::json random_space = nlohmann::json::object();  // key -> {log_uniform|uniform|int_uniform|choice}
  std::vector<nlohmann::json> seeds;  // values of train.seed; empty: the base's seed
  int nproc = 1;
  std::string executor = "local";
  int max_parallel = 0;  // 0: 1 locally, unthrottled on SLURM
};

// One run of a sweep: its overrides, in order (fixed, grid, random, seed).
struct SweepPoint {
  std::vector<std::pair<std::string, nlohmann::json>> overrides;
  // The same without the fixed ones and train.seed: what varies by design.
  nlohmann::json hparams = nlohmann::json::object();
  nlohmann::json seed;  // null when the sweep has no seeds
  // `--set` arguments (key=JSON value) that config::load understands.
  std::vector<std::string> set_args() const;
};

// Parses a sweep document; `file` names it in errors and anchors a relative
// `base` (tried relative to the working directory first, then to the file).
SweepSpec parse_sweep(const nlohmann::json& doc, const std::string& file);
SweepSpec load_sweep(const std::string& file);

// Grid (keys sorted, last key fastest) x random draws (the same n draws,
// from random_seed, for every grid point) x seeds. Deterministic.
std::vector<SweepPoint> expand(const SweepSpec& spec);

}  // namespace uda::cli
