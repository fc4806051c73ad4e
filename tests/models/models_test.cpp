// Unit tests of the model library that need no fixture: assembly from
// config, key reports of the loader, slide inference, activation
// checkpointing, discriminator shapes, state dict round trip.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/config.h"
#include "core/error.h"
#include "models/builder.h"
#include "models/discriminator.h"
#include "models/mit.h"
#include "models/ops.h"
#include "models/tensor_convert.h"
#include "models/weights.h"

namespace uda::models {
namespace {

Segmentor small_daformer(TestMode mode = TestMode::Whole) {
  ModelSpec s;
  s.backbone = "mit_b0";
  s.channels = 32;
  s.embed_dims = 32;
  s.num_classes = 5;
  s.options.test_mode = mode;
  s.options.crop = {64, 64};
  s.options.stride = {40, 40};
  auto net = build_segmentor(s);
  net->eval();
  return net;
}

TEST(Models, BuildFromConfigDeclaresKeysAndOfficialNames) {
  auto cfg = config::from_json(
      nlohmann::json::parse(R"({"model": {"backbone": {"type": "mit_b0"}, "head": {"type": "daformer"},
                                          "num_classes": 7}})"),
      "test.json");
  EXPECT_EQ(cfg.at("model.head.dilations"), nlohmann::json::parse("[1, 6, 12, 18]"));  // default filled
  auto net = build_segmentor(cfg);
  EXPECT_EQ(net->num_classes(), 7);
  std::set<std::string> keys;
  for (const auto& [k, v] : state_dict(*net)) keys.insert(k);
  for (const char* k : {"backbone.patch_embed1.proj.weight", "backbone.block1.0.attn.q.weight",
                        "backbone.block1.0.attn.kv.weight", "backbone.block1.0.attn.sr.weight",
                        "backbone.block1.0.mlp.dwconv.dwconv.weight", "backbone.norm4.bias",
                        "decode_head.embed_layers.3.proj.weight",
                        "decode_head.fuse_layer.aspp_modules.1.depthwise_conv.bn.running_var",
                        "decode_head.fuse_layer.bottleneck.conv.weight", "decode_head.conv_seg.bias"})
    EXPECT_TRUE(keys.count(k)) << k;
  EXPECT_FALSE(keys.count("backbone.block4.0.attn.sr.weight"));  // sr ratio 1: no reduction
}

TEST(Models, UnknownBackboneIsAUserError) {
  EXPECT_THROW(config::from_json(nlohmann::json::parse(R"({"model": {"backbone": {"type": "mit_b9"}}})"), "t.json"),
               UserError);
  ModelSpec s;
  s.backbone = "resnet101";
  s.head = "daformer";
  EXPECT_THROW(build_segmentor(s), UserError);
}

TEST(Models, StrictLoadNamesMissingAndUnexpectedKeys) {
  auto net = small_daformer();
  auto sd = state_dict(*net);
  sd.erase(sd.begin());  // backbone.patch_embed1.proj.weight
  sd.emplace_back("decode_head.extra.weight", from_torch(torch::zeros({2})));
  LoadOptions o;
  o.source = "weights.pth";
  try {
    load_state_dict(*net, sd, o);
    FAIL() << "expected a UserError";
  } catch (const UserError& e) {
    const std::string line = e.line();
    EXPECT_NE(line.find("backbone.patch_embed1.proj.weight"), std::string::npos) << line;
    EXPECT_NE(line.find("decode_head.extra.weight"), std::string::npos) << line;
    EXPECT_NE(line.find("weights.pth"), std::string::npos) << line;
  }
  o.strict = false;
  auto rep = load_state_dict(*net, sd, o);
  EXPECT_EQ(rep.missing, std::vector<std::string>{"backbone.patch_embed1.proj.weight"});
  EXPECT_EQ(rep.unexpected, std::vector<std::string>{"decode_head.extra.weight"});
}

TEST(Models, StateDictRoundTripWithPrefix) {
  torch::manual_seed(0);
  auto a = small_daformer(), b = small_daformer();
  LoadOptions o;
  o.prefix = "ema_model.";
  load_state_dict(*b, state_dict(*a, "ema_model."), o);
  auto x = torch::randn({1, 3, 64, 64});
  torch::NoGradGuard g;
  EXPECT_TRUE(torch::equal(a->predict(x), b->predict(x)));
}

TEST(Models, SlideEqualsWholeWhenOneCropCoversTheImage) {
  torch::manual_seed(1);
  auto whole = small_daformer(TestMode::Whole);
  auto slide = small_daformer(TestMode::Slide);
  LoadOptions o;
  load_state_dict(*slide, state_dict(*whole), o);
  torch::NoGradGuard g;
  auto x = torch::randn({1, 3, 64, 48});
  EXPECT_TRUE(torch::allclose(whole->predict(x), slide->predict(x), 1e-6, 1e-6));
}

TEST(Models, SlideAveragesOverlappingCrops) {
  torch::manual_seed(2);
  auto net = small_daformer(TestMode::Slide);
  torch::NoGradGuard g;
  auto x = torch::randn({2, 3, 96, 100});
  auto y = net->predict(x);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{2, 5, 96, 100}));
  // Grid 2x2 (crop 64, stride 40): rows [0,64) and [32,96); cols [0,64), [36,100).
  using torch::indexing::Slice;
  auto c00 = net->encode_decode(x.index({Slice(), Slice(), Slice(0, 64), Slice(0, 64)}));
  EXPECT_TRUE(torch::allclose(y.index({Slice(), Slice(), Slice(0, 32), Slice(0, 36)}),
                              c00.index({Slice(), Slice(), Slice(0, 32), Slice(0, 36)}), 1e-5, 1e-5));
  auto c11 = net->encode_decode(x.index({Slice(), Slice(), Slice(32, 96), Slice(36, 100)}));
  auto c01 = net->encode_decode(x.index({Slice(), Slice(), Slice(0, 64), Slice(36, 100)}));
  auto c10 = net->encode_decode(x.index({Slice(), Slice(), Slice(32, 96), Slice(0, 64)}));
  // Pixel (40, 40) lies in all four crops.
  auto expect = (c00.index({Slice(), Slice(), 40, 40}) + c01.index({Slice(), Slice(), 40, 4}) +
                 c10.index({Slice(), Slice(), 8, 40}) + c11.index({Slice(), Slice(), 8, 4})) /
                4;
  EXPECT_TRUE(torch::allclose(y.index({Slice(), Slice(), 40, 40}), expect, 1e-5, 1e-5));
}

TEST(Models, ActivationCheckpointingGivesTheSameGradients) {
  auto run = [](bool ckpt) {
    torch::manual_seed(3);
    auto cfg = mit_config("mit_b0");
    cfg.checkpoint_activations = ckpt;
    cfg.drop_path_rate = 0.3;  // drop-path masks must be the same in the recomputation
    auto net = std::make_shared<MixVisionTransformerImpl>(cfg);
    net->train();
    torch::manual_seed(4);
    auto x = torch::randn({2, 3, 64, 64}, torch::requires_grad());
    auto outs = net->forward(x);
    torch::Tensor loss = torch::zeros({});
    for (auto& o : outs) loss = loss + o.pow(2).mean();
    loss.backward();
    std::vector<torch::Tensor> grads{x.grad().clone()};
    for (auto& p : net->parameters()) grads.push_back(p.grad().clone());
    return grads;
  };
  auto a = run(false), b = run(true);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::allclose(a[i], b[i], 1e-5, 1e-6)) << i;
}

TEST(Models, DeepLabV2ShapesKeysAndFrozenBatchNorm) {
  ModelSpec s;
  s.backbone = "resnet50";
  s.head = "deeplabv2";
  s.num_classes = 4;
  auto net = build_segmentor(s);
  net->eval();
  torch::NoGradGuard g;
  auto out = net->forward(torch::randn({1, 3, 65, 97}));
  // Output stride 8 with ceil-mode pooling: 65 -> 33 -> 17 -> 9.
  EXPECT_EQ(out.logits.sizes(), (std::vector<int64_t>{1, 4, 9, 13}));
  EXPECT_EQ(out.aux.sizes(), (std::vector<int64_t>{1, 4, 9, 13}));
  for (const auto& p : net->named_parameters()) {
    if (p.key().find("bn") != std::string::npos || p.key().find("downsample.1") != std::string::npos) {
      EXPECT_FALSE(p.value().requires_grad()) << p.key();
    }
  }
  std::set<std::string> keys;
  for (const auto& [k, v] : state_dict(*net)) keys.insert(k);
  for (const char* k : {"conv1.weight", "bn1.running_mean", "layer1.0.downsample.0.weight", "layer3.5.conv3.weight",
                        "layer5.conv2d_list.3.bias", "layer6.conv2d_list.0.weight"})
    EXPECT_TRUE(keys.count(k)) << k;
  EXPECT_EQ(net->head_parameters().size(), 16u);
}

TEST(Models, DiscriminatorAndEntropy) {
  auto d = make_fc_discriminator(19, 64);
  EXPECT_EQ(d->forward(torch::randn({2, 19, 65, 97})).sizes(), (std::vector<int64_t>{2, 1, 2, 3}));
  auto p = torch::softmax(torch::randn({1, 19, 4, 4}), 1);
  auto e = prob_2_entropy(p);
  EXPECT_TRUE(torch::allclose(e.sum(1), -(p * p.log()).sum(1) / std::log(19.0), 1e-5, 1e-5));
}

TEST(Models, NormalisationConventions) {
  auto rgb = torch::tensor({10.0f, 20.0f, 30.0f}).view({1, 3, 1, 1});
  auto n = normalize_rgb(rgb);
  EXPECT_NEAR(n[0][0][0][0].item<float>(), (10 - 123.675) / 58.395, 1e-5);
  auto a = advent_preprocess(rgb);  // BGR: 30, 20, 10
  EXPECT_NEAR(a[0][0][0][0].item<float>(), 30 - 104.00698793, 1e-4);
  EXPECT_NEAR(a[0][2][0][0].item<float>(), 10 - 122.67891434, 1e-4);
}

}  // namespace
}  // namespace uda::models

namespace uda::models {
namespace {

TEST(Models, SegFormerHeadKeysAndShape) {
  ModelSpec s;
  s.backbone = "mit_b0";
  s.head = "segformer";
  s.embed_dims = 64;
  s.channels = 128;
  s.num_classes = 3;
  auto net = build_segmentor(s);
  net->eval();
  std::set<std::string> keys;
  for (const auto& [k, v] : state_dict(*net)) keys.insert(k);
  // mmseg segformer_head.py names; conv_seg comes from BaseDecodeHead (unused).
  for (const char* k : {"decode_head.linear_c.0.proj.weight", "decode_head.linear_c.3.proj.bias",
                        "decode_head.linear_fuse.conv.weight", "decode_head.linear_fuse.bn.running_mean",
                        "decode_head.linear_pred.weight", "decode_head.conv_seg.weight"})
    EXPECT_TRUE(keys.count(k)) << k;
  EXPECT_FALSE(keys.count("decode_head.linear_fuse.conv.bias"));  // ConvModule with BN: no bias
  torch::NoGradGuard g;
  EXPECT_EQ(net->forward(torch::randn({1, 3, 64, 96})).logits.sizes(), (std::vector<int64_t>{1, 3, 16, 24}));
  EXPECT_EQ(net->predict(torch::randn({1, 3, 64, 96})).sizes(), (std::vector<int64_t>{1, 3, 64, 96}));
}

}  // namespace
}  // namespace uda::models
