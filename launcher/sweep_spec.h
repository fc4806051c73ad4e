// Sweep files (DESIGN.md "Sweep files"): a base config, a grid over dotted
// keys, seeded random draws, seeds, and how to run them; or, with
// "protocol": "domainbed", DomainBed's sweep (dg_sweep.h). Expanding a sweep
// gives the override lists of its runs, in a fixed order.
#pragma once

#include "launcher/dg_sweep.h"
#include "launcher/sweep_point.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
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
  std::optional<DgSweep> domainbed;  // "protocol": "domainbed" (then no base, grid, random, seeds)
};

// Parses a sweep document; `file` names it in errors and anchors a relative
// `base` (tried relative to the working directory first, then to the file).
SweepSpec parse_sweep(const nlohmann::json& doc, const std::string& file);
SweepSpec load_sweep(const std::string& file);

// A config path of a sweep file: as given when it exists relative to the
// working directory, else relative to the sweep file; UserError at `where`
// when neither exists.
std::string resolve_sweep_path(const std::string& path, const std::string& file, const std::string& where);

// Grid (keys sorted, last key fastest) x random draws (the same n draws,
// from random_seed, for every grid point) x seeds; or the DomainBed jobs
// (dg_jobs). Deterministic.
std::vector<SweepPoint> expand(const SweepSpec& spec);

}  // namespace uda::cli
