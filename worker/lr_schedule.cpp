#include "worker/lr_schedule.h"

#include "core/config.h"
#include "core/error.h"
#include "core/schema.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace uda::worker {

namespace {
using config::Type;
const config::KeyRegistrar kScheduleKeys({
    {"schedule.policy", Type::String, "poly",
     "LR policy: poly|step|cosine|constant|inv (mmcv LrUpdaterHook semantics; inv: base * (1 + gamma * iter)^-power, "
     "mmcv InvLrUpdaterHook, the CDAN/GVB/MetaAlign inv_lr_scheduler).",
     false, {"poly", "step", "cosine", "constant", "inv"}},
    {"schedule.power", Type::Number, 1.0,
     "poly: lr = (base - min_lr) * (1 - iter/max_iters)^power + min_lr; inv: the power of (1 + gamma * iter)."},
    {"schedule.min_lr", Type::Number, 0.0, "poly/cosine: final learning rate."},
    {"schedule.steps", Type::Array, nlohmann::json::array(), "step: iterations at which lr is multiplied by gamma."},
    {"schedule.gamma", Type::Number, 0.1, "step: multiplier at each step; inv: the gamma of (1 + gamma * iter)."},
    {"schedule.warmup", Type::String, "none", "Warm-up: none|linear|constant|exp (mmcv) | quadratic (CSG utils/utils.py:49: "
     "factor min(ratio + (1 - ratio) (iter/warmup_iters)^2, 1)).", false,
     {"none", "linear", "constant", "exp", "quadratic"}},
    {"schedule.warmup_iters", Type::Int, 0, "Warm-up length in iterations."},
    {"schedule.warmup_ratio", Type::Number, 0.1, "LR factor at the start of warm-up (mmcv warmup_ratio)."},
    // ADVENT decays over MAX_ITERS 250000 but stops at EARLY_STOP 120000
    // (advent/domain_adaptation/config.py, advent/utils/func.py lr_poly).
    {"schedule.max_iters", Type::Int, 0,
     "Iterations over which poly/cosine decay (0 = train.max_iters; ADVENT: 250000 while training 120000)."},
});
}  // namespace

LrScheduleOptions lr_schedule_from_config(const config::Config& cfg) {
  LrScheduleOptions o;
  o.policy = cfg.get<std::string>("schedule.policy");
  o.power = cfg.get<double>("schedule.power");
  o.min_lr = cfg.get<double>("schedule.min_lr");
  o.steps = cfg.get<std::vector<int64_t>>("schedule.steps");
  o.gamma = cfg.get<double>("schedule.gamma");
  o.warmup = cfg.get<std::string>("schedule.warmup");
  o.warmup_iters = cfg.get<int64_t>("schedule.warmup_iters");
  o.warmup_ratio = cfg.get<double>("schedule.warmup_ratio");
  o.max_iters = cfg.get<int64_t>("train.max_iters");
  if (o.max_iters <= 0) throw UserError("train.max_iters must be positive", "train.max_iters", "set it to >= 1");
  if (const int64_t horizon = cfg.get<int64_t>("schedule.max_iters"); horizon > 0) {
    if (horizon < o.max_iters)
      throw UserError("schedule.max_iters is shorter than train.max_iters", "schedule.max_iters",
                      "set it to 0 (= train.max_iters) or to at least train.max_iters");
    o.max_iters = horizon;
  }
  if (o.warmup != "none" && o.warmup_iters <= 0)
    throw UserError("warm-up needs schedule.warmup_iters > 0", "schedule.warmup_iters",
                    "set warmup_iters or schedule.warmup=none");
  return o;
}

LrSchedule::LrSchedule(LrScheduleOptions options) : o_(std::move(options)) {}

double LrSchedule::regular_lr(double base_lr, int64_t iter) const {
  const double progress = static_cast<double>(iter);
  const double max_progress = static_cast<double>(o_.max_iters);
  if (o_.policy == "poly") {
    // PolyLrUpdaterHook.get_lr
    const double coeff = std::pow(1.0 - progress / max_progress, o_.power);
    return (base_lr - o_.min_lr) * coeff + o_.min_lr;
  }
  if (o_.policy == "step") {
    // StepLrUpdaterHook.get_lr with a list of steps
    int exp = 0;
    for (auto s : o_.steps)
      if (iter >= s) ++exp;
    return base_lr * std::pow(o_.gamma, exp);
  }
  if (o_.policy == "inv") {
    // InvLrUpdaterHook.get_lr; MetaAlign classification/lr_scheduler.py:7-8.
    return base_lr * std::pow(1.0 + o_.gamma * progress, -o_.power);
  }
  if (o_.policy == "cosine") {
    // CosineAnnealingLrUpdaterHook.get_lr -> annealing_cos(base, target, progress/max)
    const double factor = progress / max_progress;
    const double cos_out = std::cos(M_PI * factor) + 1.0;
    return o_.min_lr + 0.5 * (base_lr - o_.min_lr) * cos_out;
  }
  if (o_.policy != "constant") throw std::invalid_argument("unknown lr policy '" + o_.policy + "'");
  return base_lr;
}

double LrSchedule::lr(double base_lr, int64_t iter) const {
  const double regular = regular_lr(base_lr, iter);
  if (o_.warmup == "none" || iter >= o_.warmup_iters) return regular;
  // LrUpdaterHook.get_warmup_lr
  const double cur = static_cast<double>(iter), wi = static_cast<double>(o_.warmup_iters);
  if (o_.warmup == "constant") return regular * o_.warmup_ratio;
  if (o_.warmup == "linear") {
    const double k = (1.0 - cur / wi) * (1.0 - o_.warmup_ratio);
    return regular * (1.0 - k);
  }
  if (o_.warmup == "quadratic") {
    // NVlabs/CSG utils/utils.py:48-49 lr_poly: min(0.01 + 0.99 (iter/100)^2, 1)
    // times the poly decay; ratio 0.01 and warmup_iters 100 in its recipes.
    return regular * std::min(o_.warmup_ratio + (1.0 - o_.warmup_ratio) * (cur / wi) * (cur / wi), 1.0);
  }
  if (o_.warmup != "exp") throw std::invalid_argument("unknown warm-up '" + o_.warmup + "'");
  const double k = std::pow(o_.warmup_ratio, 1.0 - cur / wi);
  return regular * k;
}

}  // namespace uda::worker
