// L-inf PGD. Source: matanle51/DIAL 275c7e0 dial.py dial_loss [dial].
#include "algos/adversarial/pgd.h"

#include <torch/torch.h>

namespace uda::algos::adversarial {

void set_normalization(PgdOptions& o, const std::vector<double>& mean, const std::vector<double>& std,
                       int64_t channels, c10::Device device) {
  auto scale = torch::empty({1, channels, 1, 1}), lo = torch::empty({1, channels, 1, 1}),
       hi = torch::empty({1, channels, 1, 1});
  for (int64_t i = 0; i < channels; ++i) {
    const double m = mean.at(static_cast<size_t>(i % 3)), s = std.at(static_cast<size_t>(i % 3));
    scale[0][i] = 255.0 / s;
    lo[0][i] = -m / s;
    hi[0][i] = (255.0 - m) / s;
  }
  o.scale = scale.to(device);
  o.lo = lo.to(device);
  o.hi = hi.to(device);
}

at::Tensor pgd_attack(const std::function<at::Tensor(const at::Tensor&)>& logits_of, const at::Tensor& x,
                      const at::Tensor& labels, const at::Tensor& start, const PgdOptions& o) {
  const auto nat = x.detach();
  const auto eps = o.scale * o.epsilon, step = o.scale * o.step_size;
  const auto lower = torch::max(nat - eps, o.lo), upper = torch::min(nat + eps, o.hi);
  // [dial] :27: x_adv = x_natural + 0.001 * randn (the caller's start); the
  // official loop clamps only after the first step.
  auto adv = (nat + start).detach();
  for (int64_t i = 0; i < o.steps; ++i) {
    adv.requires_grad_(true);
    torch::Tensor grad;
    {
      torch::AutoGradMode on(true);
      const auto loss = torch::nn::functional::cross_entropy(
          logits_of(adv), labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
      grad = torch::autograd::grad({loss}, {adv})[0];
    }
    // [dial] :45-50: ascend by the sign, project into the eps-ball, then into [0, 1].
    adv = adv.detach() + step * grad.sign();
    adv = torch::min(torch::max(adv, lower), upper);
  }
  return adv.detach();
}

}  // namespace uda::algos::adversarial
