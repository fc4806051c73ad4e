#include "models/layers/sample_randomness.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <atomic>
#include <stdexcept>
#include <string>

namespace uda::models {

namespace {
thread_local SampleKeyScope* current_scope = nullptr;
std::atomic<bool> keys_required{false};

// SplitMix64 finaliser: independent seeds for (key, call) pairs.
uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
}  // namespace

SampleKeyScope::SampleKeyScope(std::vector<uint64_t> row_keys) : outer_(current_scope), keys_(std::move(row_keys)) {
  current_scope = this;
}

SampleKeyScope::~SampleKeyScope() { current_scope = outer_; }

void require_sample_keys(bool required) { keys_required = required; }

at::Tensor sample_uniform(at::IntArrayRef shape, const at::TensorOptions& options) {
  const auto float_options = options.dtype(torch::kFloat32);
  SampleKeyScope* scope = current_scope;
  if (!scope) {
    if (keys_required)
      throw std::logic_error(
          "a stochastic layer (dropout / drop path) drew outside a SampleKeyScope: the algorithm must open "
          "models::SampleKeyScope(ctx.sample_keys(stream, batch.indices)) around its training forward passes");
    return torch::rand(shape, float_options);
  }
  if (shape.empty() || shape[0] != static_cast<int64_t>(scope->keys_.size()))
    throw std::logic_error("a stochastic layer drew for " + (shape.empty() ? std::string("a scalar") : std::to_string(shape[0]) + " rows") +
                           " inside a SampleKeyScope of " + std::to_string(scope->keys_.size()) +
                           " samples: open a scope that describes the batch being forwarded");
  const uint64_t call = scope->calls_++;
  auto out = torch::empty(shape, torch::TensorOptions().dtype(torch::kFloat32));
  for (size_t r = 0; r < scope->keys_.size(); ++r) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(mix64(scope->keys_[r] ^ mix64(call)));
    out[static_cast<int64_t>(r)].uniform_(0.0, 1.0, gen);
  }
  return options.device().is_cpu() ? out : out.to(options.device(), /*non_blocking=*/false);
}

at::Tensor sample_dropout(const at::Tensor& x, double p, bool training) {
  if (!training || p <= 0.0) return x;
  if (p >= 1.0) return x * 0.0;
  auto keep = sample_uniform(x.sizes(), x.options()).ge_(p).to(x.scalar_type());
  return x * keep.div_(1.0 - p);
}

at::Tensor sample_dropout2d(const at::Tensor& x, double p, bool training) {
  if (!training || p <= 0.0) return x;
  if (p >= 1.0) return x * 0.0;
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[0] = x.size(0);
  if (x.dim() > 1) shape[1] = x.size(1);
  auto keep = sample_uniform(shape, x.options()).ge_(p).to(x.scalar_type());
  return x * keep.div_(1.0 - p);
}

at::Tensor sample_drop_path_mask(const at::Tensor& x, double p, bool training) {
  if (p <= 0.0 || !training) return {};
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[0] = x.size(0);
  // timm: floor(keep + U[0, 1)) is 1 with probability keep.
  const double keep = 1.0 - p;
  auto mask = (sample_uniform(shape, x.options()) + keep).floor_().to(x.scalar_type());
  return mask.div_(keep);
}

}  // namespace uda::models
