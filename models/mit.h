// Mix Transformer encoders MiT-B0..B5 (SegFormer), as in DAFormer's
// mmseg/models/backbones/mix_transformer.py (commit e6f6e04), with the
// official submodule names so that named_parameters() yields the official
// keys: patch_embed{1..4}.{proj,norm}, block{1..4}.N.{norm1,attn.{q,kv,proj,
// sr,norm},norm2,mlp.{fc1,dwconv.dwconv,fc2}}, norm{1..4}.
#pragma once

#include <array>
#include <string>
#include <vector>

#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/normalization.h>

#include "models/backbone.h"

namespace uda::models {

namespace detail {
class OverlapPatchEmbedImpl;
class MiTBlockImpl;
}  // namespace detail

struct MiTConfig {
  std::array<int64_t, 4> embed_dims{32, 64, 160, 256};
  std::array<int64_t, 4> num_heads{1, 2, 5, 8};
  std::array<int64_t, 4> mlp_ratios{4, 4, 4, 4};
  std::array<int64_t, 4> depths{2, 2, 2, 2};
  std::array<int64_t, 4> sr_ratios{8, 4, 2, 1};
  bool qkv_bias = true;
  double drop_rate = 0.0;       // dropout after attention proj and in the MLP
  double attn_drop_rate = 0.0;  // dropout on attention weights
  double drop_path_rate = 0.1;  // stochastic depth, linear over all blocks
  int64_t in_channels = 3;
  // Recompute every transformer block in backward instead of storing its
  // activations (memory for large crops). Needs drop_rate = attn_drop_rate = 0;
  // the drop-path masks are drawn outside the recomputed part.
  bool checkpoint_activations = false;
};

// The official settings of "mit_b0" .. "mit_b5"; UserError for other names.
MiTConfig mit_config(const std::string& name);
bool is_mit_name(const std::string& name);

class MixVisionTransformerImpl : public BackboneImpl {
 public:
  explicit MixVisionTransformerImpl(const MiTConfig& cfg);
  // The four stage maps after norm1..norm4, NCHW, strides 4, 8, 16, 32.
  std::vector<torch::Tensor> forward(const torch::Tensor& images) override;
  std::vector<int64_t> out_channels() const override;
  const MiTConfig& config() const { return cfg_; }

 private:
  MiTConfig cfg_;
  std::vector<std::shared_ptr<detail::OverlapPatchEmbedImpl>> patch_embeds_;
  std::vector<std::vector<std::shared_ptr<detail::MiTBlockImpl>>> blocks_;
  std::vector<torch::nn::LayerNorm> norms_;
};

}  // namespace uda::models

namespace uda::models {
// Holder with reference semantics, like TORCH_MODULE (the Impl is abstract-derived).
using MixVisionTransformer = std::shared_ptr<MixVisionTransformerImpl>;
}  // namespace uda::models
