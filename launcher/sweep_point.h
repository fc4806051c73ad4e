// One run of a sweep: the config it starts from and its overrides.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

namespace uda::cli {

struct SweepPoint {
  std::string base;  // the config file the run starts from
  std::vector<std::pair<std::string, nlohmann::json>> overrides;  // in order, later wins
  // The overrides without the fixed ones and train.seed: what varies by design.
  nlohmann::json hparams = nlohmann::json::object();
  nlohmann::json seed;  // train.seed; null when the sweep sets none
  // A DomainBed protocol job: its identity and DomainBed hyper-parameters
  // (dg_sweep.h); null for a grid/random sweep.
  nlohmann::json domainbed;
  // `--set` arguments (key=JSON value) that config::load understands.
  std::vector<std::string> set_args() const;
};

}  // namespace uda::cli
