// Optimizers from config: SGD (momentum, Nesterov), Adam, AdamW, with
// parameter groups chosen by name patterns carrying lr and weight-decay
// multipliers, as mmcv's DefaultOptimizerConstructor with
// paramwise_cfg.custom_keys (DAFormer: head x10 lr, norm/pos_block no decay).
#pragma once

#include <nlohmann/json.hpp>
#include <torch/optim/optimizer.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace uda::worker {

class LrSchedule;

struct GroupInfo {
  std::string key;  // the custom key that matched, "" for the default group
  double lr_mult = 1.0;
  double decay_mult = 1.0;
  double base_lr = 0.0;  // lr of the group before any schedule
  size_t num_params = 0;
};

class OptimizerBundle {
 public:
  OptimizerBundle(std::unique_ptr<torch::optim::Optimizer> optimizer, std::vector<GroupInfo> groups,
                  double grad_clip);
  torch::optim::Optimizer& optimizer() { return *optimizer_; }
  const std::vector<GroupInfo>& groups() const { return groups_; }
  // Sets every group's lr for iteration `iter` from its base lr.
  void apply_schedule(const LrSchedule& schedule, int64_t iter);
  double group_lr(size_t group) const;
  // Clips the global gradient norm when grad_clip > 0 (returns the norm, or -1).
  double clip_gradients();
  void zero_grad() { optimizer_->zero_grad(); }
  void step() { optimizer_->step(); }

 private:
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::vector<GroupInfo> groups_;
  double grad_clip_;
};

using NamedParameters = std::vector<std::pair<std::string, at::Tensor>>;

// `section` is an optimizer config object: {type, lr, momentum, nesterov,
// weight_decay, betas, eps, paramwise: {pattern: {lr_mult, decay_mult}},
// grad_clip}. Missing fields take the defaults documented in `uda config doc`
// under optimizer.*. `where` names the section in errors.
std::unique_ptr<OptimizerBundle> build_optimizer(const nlohmann::json& section, const NamedParameters& params,
                                                 const std::string& where = "optimizer");

}  // namespace uda::worker
