#include "models/sync_batch_norm.h"

#include <torch/torch.h>

#include "models/layers/fast_weights.h"

#include <utility>

namespace uda::models {

namespace {

CrossRankSum& installed_sum() {
  static CrossRankSum sum;
  return sum;
}

// y = Σ_ranks x. Backward: each rank's loss depends on every rank's x through
// y, so the gradient of the sum of all ranks' losses with respect to the local
// x is Σ_ranks dL_r/dy — the same exchange applied to the incoming gradient.
// The backward is itself this function, so that a backward with create_graph
// (second-order meta-learning through a synchronised BatchNorm) records it.
class SumOverRanks : public torch::autograd::Function<SumOverRanks> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext*, const torch::Tensor& x) {
    auto y = x.detach().clone().contiguous();
    installed_sum()(y);
    return y;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext*,
                                                 torch::autograd::variable_list grad) {
    return {SumOverRanks::apply(grad[0])};
  }
};

// Two exchanges per call (count and sum, then the centred sum of squares)
// rather than one of Σx and Σx²: the two-pass variance is what a single rank's
// BatchNorm computes, and it does not cancel catastrophically.
torch::Tensor synchronized_batch_norm(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4, "batch_norm: expected NCHW input, got ", x.dim(), " dimensions");
  const auto& o = bn.options;
  const int64_t channels = x.size(1);
  const std::vector<int64_t> reduce_dims{0, 2, 3};
  auto xf = x.to(torch::kFloat);

  auto local = torch::cat({xf.sum(reduce_dims),
                           torch::full({1}, static_cast<double>(x.numel() / channels), xf.options())});
  auto total = SumOverRanks::apply(local);
  auto count = total.narrow(0, channels, 1).detach();
  auto mean = total.narrow(0, 0, channels) / count;
  auto centred = xf - mean.view({1, -1, 1, 1});
  auto var = SumOverRanks::apply(centred.pow(2).sum(reduce_dims)) / count;

  if (o.track_running_stats()) {
    // Tensor arithmetic only: reading the count back to the host would
    // stall a CUDA stream once per BatchNorm layer.
    torch::NoGradGuard no_grad;
    bn.num_batches_tracked.add_(1);
    auto unbiased = var.detach() * (count / (count - 1).clamp_min(1));
    auto batch_mean = mean.detach();
    if (o.momentum().has_value()) {
      const double m = *o.momentum();
      bn.running_mean.mul_(1 - m).add_(batch_mean.to(bn.running_mean.dtype()), m);
      bn.running_var.mul_(1 - m).add_(unbiased.to(bn.running_var.dtype()), m);
    } else {  // cumulative moving average when momentum is None, as torch does
      auto m = 1.0 / bn.num_batches_tracked.to(bn.running_mean.dtype());
      bn.running_mean.add_((batch_mean.to(bn.running_mean.dtype()) - bn.running_mean) * m);
      bn.running_var.add_((unbiased.to(bn.running_var.dtype()) - bn.running_var) * m);
    }
  }
  auto y = centred * torch::rsqrt(var + o.eps()).view({1, -1, 1, 1});
  if (o.affine())
    y = y * fast_weight(bn.weight).view({1, -1, 1, 1}) + fast_weight(bn.bias).view({1, -1, 1, 1});
  return y.to(x.scalar_type());
}

// BatchNormImplBase::forward (libtorch 1.13) with the affine parameters
// fetched through fast_weight() (models/layers/fast_weights.h).
torch::Tensor functional_batch_norm(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4, "batch_norm: expected NCHW input, got ", x.dim(), " dimensions");
  const auto& o = bn.options;
  double factor = o.momentum().value_or(0.0);
  if (bn.is_training() && o.track_running_stats() && bn.num_batches_tracked.defined()) {
    bn.num_batches_tracked += 1;
    factor = o.momentum().has_value() ? *o.momentum() : 1.0 / bn.num_batches_tracked.item<double>();
  }
  return torch::nn::functional::detail::batch_norm(x, bn.running_mean, bn.running_var, fast_weight(bn.weight),
                                                   fast_weight(bn.bias),
                                                   bn.is_training() || !o.track_running_stats(), factor, o.eps());
}

}  // namespace

void set_batch_norm_sync(CrossRankSum sum) { installed_sum() = std::move(sum); }

bool batch_norm_sync_enabled() { return static_cast<bool>(installed_sum()); }

torch::Tensor batch_norm(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x) {
  if (!bn.is_training() || !installed_sum()) {
    if (has_fast_weight(bn.weight) || has_fast_weight(bn.bias)) return functional_batch_norm(bn, x);
    return bn.forward(x);
  }
  return synchronized_batch_norm(bn, x);
}

}  // namespace uda::models
