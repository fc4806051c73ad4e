#include "worker/robust_eval.h"

#include "algos/adversarial/pgd.h"
#include "core/error.h"
#include "core/schema.h"
#include "data/pipeline/loader_config.h"

#include <torch/torch.h>
#include <xxhash.h>

namespace uda::worker {

namespace {
using config::Type;

const config::KeyRegistrar kKeys({
    {"train.eval_attack", Type::String, "none",
     "Classification evaluation under attack: none | pgd (L-inf PGD against the evaluated network, DIAL's "
     "whitebox_attack.py; adds pgd_accuracy / <set>_pgd_acc and the DG summaries pgd_train_domain_val_acc, "
     "pgd_test_domain_acc; worker/robust_eval.h).",
     false, {"none", "pgd"}},
    {"train.eval_attack_epsilon", Type::Number, 0.3,
     "PGD evaluation: radius of the L-inf ball in pixel units [0, 1] (DIAL train_dial_mnist.py --epsilon 0.3)."},
    {"train.eval_attack_step_size", Type::Number, 0.01,
     "PGD evaluation: step in pixel units (DIAL train_dial_mnist.py --step-size 0.01)."},
    {"train.eval_attack_steps", Type::Int, 40, "PGD evaluation: steps (DIAL train_dial_mnist.py --num-steps 40)."},
    {"train.eval_attack_random_start", Type::Bool, true,
     "PGD evaluation: start from a uniform draw in the eps-ball (DIAL whitebox_attack.py), else from the image."},
});

}  // namespace

std::optional<AttackFn> make_eval_attack(const config::Config& cfg, const PredictFn& predict, c10::Device device) {
  if (cfg.get<std::string>("train.eval_attack") == "none") return std::nullopt;
  algos::adversarial::PgdOptions o;
  o.epsilon = cfg.get<double>("train.eval_attack_epsilon");
  o.step_size = cfg.get<double>("train.eval_attack_step_size");
  o.steps = cfg.get<int64_t>("train.eval_attack_steps");
  if (!(o.epsilon >= 0))
    throw UserError("train.eval_attack_epsilon must be >= 0", "train.eval_attack_epsilon",
                    "set the L-inf radius in pixel units (DIAL MNIST: 0.3)");
  if (!(o.step_size >= 0))
    throw UserError("train.eval_attack_step_size must be >= 0", "train.eval_attack_step_size",
                    "set the step in pixel units (DIAL MNIST: 0.01)");
  if (o.steps < 1)
    throw UserError("train.eval_attack_steps is " + std::to_string(o.steps) + ", must be >= 1",
                    "train.eval_attack_steps", "set the number of PGD steps (DIAL MNIST: 40)");
  const bool random_start = cfg.get<bool>("train.eval_attack_random_start");
  const uint64_t seed = static_cast<uint64_t>(cfg.get<int64_t>("train.seed"));
  // The evaluation images are normalised as x = (255 p - mean) / std per
  // channel: the ball, the step and the box in those units.
  const auto t = data::pipeline::transform_config(cfg, "val");
  algos::adversarial::set_normalization(o, {t.mean.begin(), t.mean.end()}, {t.std.begin(), t.std.end()},
                                        cfg.get<int64_t>("model.in_channels"), device);
  return AttackFn([predict, o, random_start, seed](const at::Tensor& images, const at::Tensor& labels) {
    if (labels.dim() != 1)
      throw UserError("train.eval_attack attacks classifiers; this evaluation has per-pixel labels",
                      "train.eval_attack", "set train.eval_attack=none for segmentation");
    auto start = torch::zeros(images.sizes());
    if (random_start) {
      const auto cpu = images.detach().to(torch::kCPU, torch::kFloat32).contiguous();
      for (int64_t r = 0; r < images.size(0); ++r) {
        const auto row = cpu[r].contiguous();
        const uint64_t h = XXH64(row.data_ptr<float>(), static_cast<size_t>(row.numel()) * sizeof(float), seed);
        auto gen = at::make_generator<at::CPUGeneratorImpl>(h);
        start[r].copy_(torch::rand(row.sizes(), gen, torch::kFloat32) * (2 * o.epsilon) - o.epsilon);
      }
    }
    start = start.to(images.device()) * o.scale;
    return algos::adversarial::pgd_attack(predict, images, labels, start, o);
  });
}

}  // namespace uda::worker
