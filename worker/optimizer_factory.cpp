#include "worker/optimizer_factory.h"

#include "core/error.h"
#include "core/schema.h"
#include "worker/lr_schedule.h"

#include <torch/torch.h>

#include <algorithm>
#include <map>

namespace uda::worker {

namespace {
using config::Type;
using nlohmann::json;
const config::KeyRegistrar kOptimizerKeys({
    {"optimizer.type", Type::String, "adamw", "sgd|adam|adamw.", false, {"sgd", "adam", "adamw"}},
    {"optimizer.lr", Type::Number, 6e-5, "Base learning rate (before schedule and multipliers)."},
    {"optimizer.momentum", Type::Number, 0.9, "SGD momentum."},
    {"optimizer.nesterov", Type::Bool, false, "SGD Nesterov momentum."},
    {"optimizer.weight_decay", Type::Number, 0.01, "Weight decay (decoupled for AdamW, L2 for SGD/Adam)."},
    {"optimizer.betas", Type::Array, json::array({0.9, 0.999}), "Adam/AdamW betas."},
    {"optimizer.eps", Type::Number, 1e-8, "Adam/AdamW epsilon."},
    {"optimizer.paramwise", Type::Object, json::object(),
     "Name pattern -> {lr_mult, decay_mult}; the longest matching substring wins (mmcv custom_keys)."},
    {"optimizer.grad_clip", Type::Number, 0.0, "Clip the global gradient L2 norm to this value (0 = off)."},
});

double num(const json& s, const char* key, double def) { return s.contains(key) ? s[key].get<double>() : def; }
}  // namespace

OptimizerBundle::OptimizerBundle(std::unique_ptr<torch::optim::Optimizer> optimizer, std::vector<GroupInfo> groups,
                                 double grad_clip)
    : optimizer_(std::move(optimizer)), groups_(std::move(groups)), grad_clip_(grad_clip) {}

void OptimizerBundle::apply_schedule(const LrSchedule& schedule, int64_t iter) {
  auto& pgs = optimizer_->param_groups();
  for (size_t g = 0; g < pgs.size(); ++g) pgs[g].options().set_lr(schedule.lr(groups_[g].base_lr, iter));
}

double OptimizerBundle::group_lr(size_t group) const { return optimizer_->param_groups()[group].options().get_lr(); }

double OptimizerBundle::clip_gradients() {
  if (grad_clip_ <= 0) return -1;
  std::vector<at::Tensor> params;
  for (auto& g : optimizer_->param_groups())
    for (auto& p : g.params()) params.push_back(p);
  return torch::nn::utils::clip_grad_norm_(params, grad_clip_);
}

std::unique_ptr<OptimizerBundle> build_optimizer(const json& s, const NamedParameters& params,
                                                 const std::string& where) {
  const std::string type = s.value("type", std::string("adamw"));
  const double lr = num(s, "lr", 6e-5);
  const double wd = num(s, "weight_decay", 0.01);
  json paramwise = s.value("paramwise", json::object());

  // mmcv: keys sorted alphabetically, then by length descending; the first
  // key contained in the parameter name decides.
  std::vector<std::string> keys;
  for (auto it = paramwise.begin(); it != paramwise.end(); ++it) keys.push_back(it.key());
  std::sort(keys.begin(), keys.end());
  std::stable_sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });

  std::map<std::string, size_t> group_of_key;
  std::vector<GroupInfo> infos;
  std::vector<std::vector<at::Tensor>> group_params;
  for (const auto& [name, p] : params) {
    if (!p.requires_grad()) continue;
    std::string matched;
    for (const auto& k : keys)
      if (name.find(k) != std::string::npos) {
        matched = k;
        break;
      }
    auto it = group_of_key.find(matched);
    if (it == group_of_key.end()) {
      GroupInfo gi;
      gi.key = matched;
      if (!matched.empty()) {
        gi.lr_mult = num(paramwise[matched], "lr_mult", 1.0);
        gi.decay_mult = num(paramwise[matched], "decay_mult", 1.0);
      }
      gi.base_lr = lr * gi.lr_mult;
      it = group_of_key.emplace(matched, infos.size()).first;
      infos.push_back(gi);
      group_params.emplace_back();
    }
    group_params[it->second].push_back(p);
    infos[it->second].num_params++;
  }
  if (infos.empty())
    throw UserError("no trainable parameters for the optimizer", where, "check the model and frozen layers");

  std::vector<torch::optim::OptimizerParamGroup> groups;
  for (size_t g = 0; g < infos.size(); ++g) {
    const double group_wd = wd * infos[g].decay_mult;
    std::unique_ptr<torch::optim::OptimizerOptions> opts;
    if (type == "sgd") {
      auto o = torch::optim::SGDOptions(infos[g].base_lr);
      o.momentum(num(s, "momentum", 0.9)).nesterov(s.value("nesterov", false)).weight_decay(group_wd);
      opts = std::make_unique<torch::optim::SGDOptions>(o);
    } else if (type == "adam" || type == "adamw") {
      auto betas = s.value("betas", json::array({0.9, 0.999}));
      if (!betas.is_array() || betas.size() != 2)
        throw UserError("betas must be a list of two numbers", where + ".betas", "e.g. [0.9, 0.999]");
      if (type == "adam") {
        auto o = torch::optim::AdamOptions(infos[g].base_lr);
        o.betas({betas[0].get<double>(), betas[1].get<double>()}).eps(num(s, "eps", 1e-8)).weight_decay(group_wd);
        opts = std::make_unique<torch::optim::AdamOptions>(o);
      } else {
        auto o = torch::optim::AdamWOptions(infos[g].base_lr);
        o.betas({betas[0].get<double>(), betas[1].get<double>()}).eps(num(s, "eps", 1e-8)).weight_decay(group_wd);
        opts = std::make_unique<torch::optim::AdamWOptions>(o);
      }
    } else {
      throw UserError("unknown optimizer type '" + type + "'", where + ".type", "use sgd, adam or adamw");
    }
    groups.emplace_back(group_params[g], std::move(opts));
  }
  std::unique_ptr<torch::optim::Optimizer> opt;
  // The constructor's default options are unused: every group has its own.
  if (type == "sgd") opt = std::make_unique<torch::optim::SGD>(groups, torch::optim::SGDOptions(lr));
  else if (type == "adam") opt = std::make_unique<torch::optim::Adam>(groups);
  else opt = std::make_unique<torch::optim::AdamW>(groups);
  return std::make_unique<OptimizerBundle>(std::move(opt), std::move(infos), num(s, "grad_clip", 0.0));
}

}  // namespace uda::worker
