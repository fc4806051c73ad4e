// Mix Transformer. Every numeric detail follows DAFormer's
// mmseg/models/backbones/mix_transformer.py (e6f6e04), cited as [mit].
#include "models/mit.h"

#include <torch/torch.h>

#include <cmath>

#include "core/error.h"
#include "models/layers/sample_randomness.h"

namespace uda::models {
namespace detail {
namespace F = torch::nn::functional;
using torch::Tensor;

// [mit] blocks and stage norms use partial(nn.LayerNorm, eps=1e-6); the
// patch-embedding norm and the spatial-reduction norm keep PyTorch's 1e-5.
constexpr double kBlockEps = 1e-6;
constexpr double kEmbedEps = 1e-5;

Tensor apply_mask(const Tensor& y, const Tensor& mask) { return mask.defined() ? y * mask : y; }

// [mit] OverlapPatchEmbed: conv with padding k//2, flatten to tokens, LayerNorm.
class OverlapPatchEmbedImpl : public torch::nn::Module {
 public:
  OverlapPatchEmbedImpl(int64_t in, int64_t dim, int64_t k, int64_t stride)
      : proj(register_module("proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, dim, k)
                                                           .stride(stride)
                                                           .padding(k / 2)))),
        norm(register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(kEmbedEps)))) {}

  // Returns tokens (B, H*W, C) and sets H, W.
  Tensor forward(const Tensor& x, int64_t& H, int64_t& W) {
    auto y = proj->forward(x);
    H = y.size(2);
    W = y.size(3);
    return norm->forward(y.flatten(2).transpose(1, 2).contiguous());
  }

  torch::nn::Conv2d proj;
  torch::nn::LayerNorm norm;
};

// [mit] Attention: efficient self-attention; keys and values come from a
// sr_ratio-strided conv of the token map followed by LayerNorm.
class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(int64_t dim, int64_t heads, bool qkv_bias, double attn_drop, double proj_drop, int64_t sr)
      : attn_drop_(attn_drop),
        proj_drop_(proj_drop),
        heads_(heads),
        sr_(sr),
        scale_(std::pow(static_cast<double>(dim / heads), -0.5)) {
    TORCH_CHECK(dim % heads == 0, "MiT: dim ", dim, " is not divisible by num_heads ", heads);
    q = register_module("q", torch::nn::Linear(torch::nn::LinearOptions(dim, dim).bias(qkv_bias)));
    kv = register_module("kv", torch::nn::Linear(torch::nn::LinearOptions(dim, 2 * dim).bias(qkv_bias)));
    proj = register_module("proj", torch::nn::Linear(dim, dim));
    if (sr > 1) {
      this->sr = register_module("sr", torch::nn::Conv2d(torch::nn::Conv2dOptions(dim, dim, sr).stride(sr)));
      norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(kEmbedEps)));
    }
  }

  Tensor forward(const Tensor& x, int64_t H, int64_t W) {
    const int64_t B = x.size(0), N = x.size(1), C = x.size(2), hd = C / heads_;
    auto qh = q->forward(x).reshape({B, N, heads_, hd}).permute({0, 2, 1, 3}).contiguous();
    Tensor src = x;
    if (sr_ > 1) {
      auto map = x.permute({0, 2, 1}).contiguous().reshape({B, C, H, W});
      src = norm->forward(sr->forward(map).reshape({B, C, -1}).permute({0, 2, 1}).contiguous());
    }
    auto kvh = kv->forward(src).reshape({B, -1, 2, heads_, hd}).permute({2, 0, 3, 1, 4}).contiguous();
    auto k = kvh[0], v = kvh[1];
    auto attn = torch::matmul(qh, k.transpose(-2, -1).contiguous()) * scale_;
    attn = sample_dropout(attn.softmax(-1), attn_drop_, is_training());
    auto y = torch::matmul(attn, v).transpose(1, 2).contiguous().reshape({B, N, C});
    return sample_dropout(proj->forward(y), proj_drop_, is_training());
  }

  torch::nn::Linear q{nullptr}, kv{nullptr}, proj{nullptr};
  torch::nn::Conv2d sr{nullptr};
  torch::nn::LayerNorm norm{nullptr};

 private:
  double attn_drop_, proj_drop_;  // per-sample dropout rates (models/layers/sample_randomness.h)
  int64_t heads_, sr_;
  double scale_;  // [mit] qk_scale or head_dim ** -0.5
};

// [mit] DWConv: 3x3 depthwise conv with bias on the token map.
class DWConvImpl : public torch::nn::Module {
 public:
  explicit DWConvImpl(int64_t dim)
      : dwconv(register_module("dwconv", torch::nn::Conv2d(torch::nn::Conv2dOptions(dim, dim, 3)
                                                               .stride(1)
                                                               .padding(1)
                                                               .groups(dim)
                                                               .bias(true)))) {}
  Tensor forward(const Tensor& x, int64_t H, int64_t W) {
    const int64_t B = x.size(0), C = x.size(2);
    auto y = dwconv->forward(x.transpose(1, 2).contiguous().view({B, C, H, W}));
    return y.flatten(2).transpose(1, 2).contiguous();
  }
  torch::nn::Conv2d dwconv;
};

// [mit] Mlp (Mix-FFN): fc1 -> dwconv -> GELU (exact, erf) -> drop -> fc2 -> drop.
class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(int64_t dim, int64_t hidden, double drop)
      : fc1(register_module("fc1", torch::nn::Linear(dim, hidden))),
        dwconv(register_module("dwconv", std::make_shared<DWConvImpl>(hidden))),
        fc2(register_module("fc2", torch::nn::Linear(hidden, dim))),
        drop_(drop) {}
  Tensor forward(const Tensor& x, int64_t H, int64_t W) {
    auto y = torch::gelu(dwconv->forward(fc1->forward(x), H, W));
    return sample_dropout(fc2->forward(sample_dropout(y, drop_, is_training())), drop_, is_training());
  }
  torch::nn::Linear fc1;
  std::shared_ptr<DWConvImpl> dwconv;
  torch::nn::Linear fc2;

 private:
  double drop_;
};

class MiTBlockImpl;

// Activation checkpointing of one block (reentrant, as torch.utils.checkpoint):
// forward runs without a graph; backward recomputes the block with grad
// enabled and back-propagates through it, which also accumulates the block's
// parameter gradients. Drop-path masks are drawn before and reused.
// The drop-path masks travel as a non-tensor argument: autograd::Function
// rejects undefined tensors among its inputs, and the masks need no gradient.
using DropMasks = std::pair<Tensor, Tensor>;

struct BlockCheckpointFn : public torch::autograd::Function<BlockCheckpointFn> {
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, Tensor x,
                                                MiTBlockImpl* blk, int64_t H, int64_t W, DropMasks masks);
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out);
};

// [mit] Block: x + drop_path(attn(norm1(x))), then x + drop_path(mlp(norm2(x))).
class MiTBlockImpl : public torch::nn::Module {
 public:
  MiTBlockImpl(int64_t dim, int64_t heads, int64_t mlp_ratio, bool qkv_bias, double drop, double attn_drop,
               double drop_path, int64_t sr, bool checkpoint)
      : drop_path_(drop_path), checkpoint_(checkpoint) {
    norm1 = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(kBlockEps)));
    attn = register_module("attn", std::make_shared<AttentionImpl>(dim, heads, qkv_bias, attn_drop, drop, sr));
    norm2 = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(kBlockEps)));
    mlp = register_module("mlp", std::make_shared<MlpImpl>(dim, dim * mlp_ratio, drop));
  }

  Tensor forward(const Tensor& x, int64_t H, int64_t W) {
    auto m1 = sample_drop_path_mask(x, drop_path_, is_training());
    auto m2 = sample_drop_path_mask(x, drop_path_, is_training());
    if (checkpoint_ && is_training() && torch::GradMode::is_enabled())
      return BlockCheckpointFn::apply(x, this, H, W, DropMasks{m1, m2})[0];
    return body(x, H, W, m1, m2);
  }

  Tensor body(const Tensor& x, int64_t H, int64_t W, const Tensor& m1, const Tensor& m2) {
    auto y = x + apply_mask(attn->forward(norm1->forward(x), H, W), m1);
    return y + apply_mask(mlp->forward(norm2->forward(y), H, W), m2);
  }

  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  std::shared_ptr<AttentionImpl> attn;
  std::shared_ptr<MlpImpl> mlp;

 private:
  double drop_path_;
  bool checkpoint_;
};

torch::autograd::variable_list BlockCheckpointFn::forward(torch::autograd::AutogradContext* ctx, Tensor x,
                                                          MiTBlockImpl* blk, int64_t H, int64_t W,
                                                          DropMasks masks) {
  const auto& [m1, m2] = masks;
  ctx->save_for_backward({x});
  ctx->saved_data["blk"] = reinterpret_cast<int64_t>(blk);
  ctx->saved_data["H"] = H;
  ctx->saved_data["W"] = W;
  ctx->saved_data["m1"] = m1;
  ctx->saved_data["m2"] = m2;
  return {blk->body(x, H, W, m1, m2)};
}

torch::autograd::variable_list BlockCheckpointFn::backward(torch::autograd::AutogradContext* ctx,
                                                           torch::autograd::variable_list grad_out) {
  auto* blk = reinterpret_cast<MiTBlockImpl*>(ctx->saved_data["blk"].toInt());
  auto x = ctx->get_saved_variables()[0].detach().requires_grad_(true);
  Tensor y;
  {
    torch::AutoGradMode enable(true);
    auto mask = [&](const char* k) {
      const auto& v = ctx->saved_data[k];
      return v.isTensor() ? v.toTensor() : Tensor();
    };
    y = blk->body(x, ctx->saved_data["H"].toInt(), ctx->saved_data["W"].toInt(), mask("m1"), mask("m2"));
  }
  torch::autograd::backward({y}, {grad_out[0]});
  return {x.grad(), Tensor(), Tensor(), Tensor(), Tensor()};
}

}  // namespace detail

bool is_mit_name(const std::string& name) {
  return name.size() == 6 && name.compare(0, 5, "mit_b") == 0 && name[5] >= '0' && name[5] <= '5';
}

MiTConfig mit_config(const std::string& name) {
  if (!is_mit_name(name))
    throw UserError("unknown MiT variant '" + name + "'", "model.backbone.type", "use one of mit_b0 .. mit_b5");
  // [mit] classes mit_b0 .. mit_b5: all use patch_size 4, qkv_bias True,
  // LayerNorm eps 1e-6, mlp ratios 4, heads (1, 2, 5, 8), sr (8, 4, 2, 1).
  MiTConfig c;
  const int v = name[5] - '0';
  if (v == 0) {
    c.embed_dims = {32, 64, 160, 256};
  } else {
    c.embed_dims = {64, 128, 320, 512};
  }
  static const std::array<std::array<int64_t, 4>, 6> depths{{
      {2, 2, 2, 2}, {2, 2, 2, 2}, {3, 4, 6, 3}, {3, 4, 18, 3}, {3, 8, 27, 3}, {3, 6, 40, 3}}};
  c.depths = depths[v];
  return c;
}

MixVisionTransformerImpl::MixVisionTransformerImpl(const MiTConfig& cfg) : cfg_(cfg) {
  if (cfg.checkpoint_activations && (cfg.drop_rate > 0 || cfg.attn_drop_rate > 0))
    throw UserError("activation checkpointing needs drop_rate = attn_drop_rate = 0", "model.backbone",
                    "set model.backbone.checkpoint_activations false or the dropout rates to 0");
  // [mit] stochastic depth decay rule: linspace(0, drop_path_rate, sum(depths)),
  // computed in float32 as torch.linspace does, then read as Python floats.
  int64_t total = 0;
  for (auto d : cfg.depths) total += d;
  auto dpr = torch::linspace(0.0, cfg.drop_path_rate, total, torch::kFloat32);
  int64_t cur = 0;
  int64_t in = cfg.in_channels;
  for (int s = 0; s < 4; ++s) {
    const std::string n = std::to_string(s + 1);
    // [mit] patch_embed1: 7x7 stride 4; patch_embed2..4: 3x3 stride 2.
    const int64_t k = s == 0 ? 7 : 3, stride = s == 0 ? 4 : 2;
    patch_embeds_.push_back(register_module(
        "patch_embed" + n, std::make_shared<detail::OverlapPatchEmbedImpl>(in, cfg.embed_dims[s], k, stride)));
    in = cfg.embed_dims[s];
  }
  for (int s = 0; s < 4; ++s) {
    const std::string n = std::to_string(s + 1);
    torch::nn::ModuleList list;
    std::vector<std::shared_ptr<detail::MiTBlockImpl>> typed;
    for (int64_t i = 0; i < cfg.depths[s]; ++i) {
      auto blk = std::make_shared<detail::MiTBlockImpl>(
          cfg.embed_dims[s], cfg.num_heads[s], cfg.mlp_ratios[s], cfg.qkv_bias, cfg.drop_rate, cfg.attn_drop_rate,
          dpr[cur + i].item<float>(), cfg.sr_ratios[s], cfg.checkpoint_activations);
      list->push_back(blk);
      typed.push_back(blk);
    }
    cur += cfg.depths[s];
    register_module("block" + n, list);
    blocks_.push_back(std::move(typed));
    norms_.push_back(register_module(
        "norm" + n, torch::nn::LayerNorm(torch::nn::LayerNormOptions({cfg.embed_dims[s]}).eps(detail::kBlockEps))));
  }
}

std::vector<torch::Tensor> MixVisionTransformerImpl::forward(const torch::Tensor& images) {
  std::vector<torch::Tensor> outs;
  const int64_t B = images.size(0);
  torch::Tensor x = images;
  for (int s = 0; s < 4; ++s) {
    int64_t H = 0, W = 0;
    x = patch_embeds_[s]->forward(x, H, W);
    for (auto& blk : blocks_[s]) x = blk->forward(x, H, W);
    x = norms_[s]->forward(x);
    x = x.reshape({B, H, W, -1}).permute({0, 3, 1, 2}).contiguous();
    outs.push_back(x);
  }
  return outs;
}

std::vector<int64_t> MixVisionTransformerImpl::out_channels() const {
  return {cfg_.embed_dims.begin(), cfg_.embed_dims.end()};
}

}  // namespace uda::models
