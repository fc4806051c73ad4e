// Per-sample randomness for uda's stochastic layers (dropout, Dropout2d,
// stochastic depth), so that a sample's masks do not depend on which rank
// computes it or on its row in the local batch (the world-size promise,
// docs/SCALING.md).
//
// An algorithm opens a SampleKeyScope around the forward passes of a batch,
// giving one 64-bit key per batch row (TrainContext::sample_keys: a function
// of the run seed, a stream name and the sample's global slot, which already
// encodes the iteration). Inside the scope every call of a stochastic layer
// that draws takes the next call number, and row r's draws come from a
// generator seeded with (key r, call number) — on the CPU, then copied to the
// tensor's device, so that CUDA ranks draw exactly what CPU ranks draw. The
// call sequence is the same on every rank because the code path is.
//
// Outside any scope (library use, unit tests) the layers draw from torch's
// process generator, as torch's own modules do — unless scopes are required
// (the training worker requires them, so that a plugin that forgets to open
// one fails loudly instead of silently drawing per rank).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace uda::models {

class SampleKeyScope {
 public:
  explicit SampleKeyScope(std::vector<uint64_t> row_keys);
  ~SampleKeyScope();
  SampleKeyScope(const SampleKeyScope&) = delete;
  SampleKeyScope& operator=(const SampleKeyScope&) = delete;

 private:
  SampleKeyScope* outer_;
  std::vector<uint64_t> keys_;
  uint64_t calls_ = 0;
  friend at::Tensor sample_uniform(at::IntArrayRef, const at::TensorOptions&);
};

// Process-wide: a draw outside any scope throws std::logic_error.
void require_sample_keys(bool required);

// Uniform [0, 1) draws of `shape` (float32 on options' device). Inside a
// scope shape[0] must equal the number of row keys (std::logic_error
// otherwise: a forward saw a batch the scope does not describe).
at::Tensor sample_uniform(at::IntArrayRef shape, const at::TensorOptions& options);

// Inverted dropout with per-sample masks; identity in eval mode or at p 0.
//   sample_dropout:   every element dropped independently (nn.Dropout)
//   sample_dropout2d: whole channels of [N, C, ...] (nn.Dropout2d)
at::Tensor sample_dropout(const at::Tensor& x, double p, bool training);
at::Tensor sample_dropout2d(const at::Tensor& x, double p, bool training);
// timm DropPath's mask [N, 1, ..., 1]: 0 or 1/(1-p) per sample; undefined when
// inactive (eval mode or p 0).
at::Tensor sample_drop_path_mask(const at::Tensor& x, double p, bool training);

}  // namespace uda::models
