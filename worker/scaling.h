// Scaling a single-GPU recipe to a larger global batch (runtime.scale_rule).
// Nothing is scaled unless asked; every change is returned so that the
// worker logs it and records it in the run directory (docs/SCALING.md).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace uda::config {
class Config;
}

namespace uda::worker {

struct ScaleChange {
  std::string key;
  nlohmann::json before;
  nlohmann::json after;
};

// k = global batch / reference batch, with global batch =
// data.batch_per_rank * world_size and reference batch =
// runtime.reference_batch (0: data.batch_per_rank, i.e. the recipe ran on
// one rank). Rules:
//   linear: lr *= k;        iterations, warm-up, intervals /= k; EMA alpha^k
//   sqrt:   lr *= sqrt(k);  iterations, warm-up, intervals /= k; EMA alpha^k
//   none:   nothing.
// Learning rates scaled: optimizer.lr and every algorithm.*_optimizer.lr.
// EMA keys: every algorithm.* key named "ema_alpha" / "alpha".
std::vector<ScaleChange> apply_scale_rule(config::Config& cfg, int world_size);

}  // namespace uda::worker
