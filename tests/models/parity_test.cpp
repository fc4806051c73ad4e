// Parity with the official implementations: every dataset of golden.h5 in
// /daformer and /advent is recomputed from the official .pth files (rebuilt
// from the fixture's manifests, read by uda's .pth reader) and compared with
// relative error max|a - b| / max|b| <= 1e-4 (docs/MODELS.md). Cases, sizes,
// backbone and file names come from the fixture file, nothing is assumed.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <iostream>
#include <map>
#include <regex>
#include <set>

#include "models/builder.h"
#include "models/discriminator.h"
#include "models/mit.h"
#include "models/ops.h"
#include "models/weights.h"
#include "tests/models/parity_support.h"
#include "storage/pth_reader.h"

namespace uda::models {
namespace {
using test::H5File;
using test::relative_error;

constexpr double kTolerance = 1e-4;

// "model_logits_96x160" -> {"model_logits", "96x160"}: the size token is the
// last underscore-separated part.
std::pair<std::string, std::string> split_name(const std::string& name) {
  const auto pos = name.rfind('_');
  if (pos == std::string::npos) return {name, ""};
  return {name.substr(0, pos), name.substr(pos + 1)};
}

struct Checker {
  std::string group;
  int checked = 0;
  double worst = 0;
  void check(const std::string& name, const torch::Tensor& actual, const torch::Tensor& expected) {
    ASSERT_EQ(actual.sizes(), expected.sizes()) << group << "/" << name;
    const double err = relative_error(actual, expected);
    std::cout << "[parity] " << group << "/" << name << " rel_err " << err << "\n";
    EXPECT_LE(err, kTolerance) << group << "/" << name;
    worst = std::max(worst, err);
    ++checked;
  }
};

class ParityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::set_num_threads(1);  // the fixture was produced with 1 intra-op thread
    h5_ = std::make_unique<H5File>(test::parity_dir() + "/golden.h5");
  }
  std::unique_ptr<H5File> h5_;
};

TEST_F(ParityTest, DAFormerEveryGoldenOutput) {
  torch::NoGradGuard no_grad;
  const std::string g = "/daformer";
  const auto backbone = h5_->string_attr(g, "backbone");
  const auto ckpt = test::parity_weights(h5_->string_attr(g, "checkpoint"));
  const auto imnet_file = test::parity_weights(h5_->string_attr(g, "imagenet_file"));
  ModelSpec spec;
  spec.backbone = backbone;
  spec.head = "daformer";
  spec.num_classes = h5_->int_attr(g, "num_classes");

  // A DACS checkpoint holds three segmentors; each loads strictly by prefix.
  const auto sd = storage::read_pth_state_dict(ckpt);
  std::map<std::string, Segmentor> nets;
  for (const std::string prefix : {"model", "ema", "imnet"}) {
    auto net = build_segmentor(spec);
    LoadOptions o;
    o.prefix = prefix == "ema" ? "ema_model." : prefix + "_model.";
    if (prefix == "model") o.prefix = "model.";
    o.source = ckpt;
    auto rep = load_state_dict(*net, sd, o);
    EXPECT_EQ(rep.loaded, static_cast<size_t>(std::count_if(sd.begin(), sd.end(), [&](const auto& kv) {
                return kv.first.rfind(o.prefix, 0) == 0;
              })));
    net->eval();
    nets[prefix] = net;
  }
  // The MiT ImageNet file loaded non-strictly into a backbone, as
  // MixVisionTransformer.init_weights does: only head.* is left over.
  auto imnet_backbone = std::make_shared<MixVisionTransformerImpl>(mit_config(backbone));
  LoadOptions lo;
  lo.strict = false;
  auto rep = load_pth(*imnet_backbone, imnet_file, lo);
  EXPECT_TRUE(rep.missing.empty()) << rep.summary();
  EXPECT_EQ(rep.unexpected, (std::vector<std::string>{"head.weight", "head.bias"})) << rep.summary();
  imnet_backbone->eval();
  // The same through the config path (model.pretrained).
  ModelSpec pre = spec;
  pre.pretrained = imnet_file;
  auto pretrained_net = build_segmentor(pre);
  load_pretrained(*pretrained_net, pre);
  pretrained_net->eval();

  Checker c{g};
  std::map<std::string, std::vector<std::string>> by_size;
  for (const auto& name : h5_->datasets(g)) by_size[split_name(name).second].push_back(name);
  const std::regex stage_re("stage([1-4])");
  for (const auto& [size, names] : by_size) {
    const std::string input_name = "input_" + size;
    ASSERT_TRUE(h5_->has(g + "/" + input_name)) << "no input for size " << size;
    const auto input = h5_->read(g + "/" + input_name);
    std::map<std::string, SegmentorOutput> outs;
    for (auto& [k, net] : nets) outs[k] = net->forward(input);
    const auto imnet_stages = imnet_backbone->forward(input);
    const auto pretrained_stages = pretrained_net->extract_features(input);
    for (const auto& name : names) {
      const auto expected = h5_->read(g + "/" + name);
      const auto kind = split_name(name).first;
      if (kind == "input") continue;
      if (kind == "image_rgb") {
        // The stored inputs are (image - mean) / std with the group's attributes.
        auto mean = h5_->numeric_attr(g + "/" + input_name, "mean");
        auto stdv = h5_->numeric_attr(g + "/" + input_name, "std");
        c.check(input_name + " (normalize_rgb)",
                normalize_rgb(expected, {mean[0], mean[1], mean[2]}, {stdv[0], stdv[1], stdv[2]}), input);
        continue;
      }
      // "<net>_<what>" with net in model|ema|imnet (default model).
      std::string net = "model", what = kind;
      for (const std::string n : {"model", "ema", "imnet"})
        if (kind.rfind(n + "_", 0) == 0) net = n, what = kind.substr(n.size() + 1);
      const auto& o = outs.at(net);
      std::smatch m;
      if (what == "logits") {
        c.check(name, resize_bilinear(o.logits, input.size(2), input.size(3), false), expected);
        c.check(name + " (predict)", nets.at(net)->predict(input), expected);
      } else if (what == "head_logits") {
        c.check(name, o.logits, expected);
      } else if (std::regex_match(what, m, stage_re)) {
        const int k = std::stoi(m[1]) - 1;
        c.check(name, o.features.at(k), expected);
        if (net == "imnet") {
          c.check(name + " (ImageNet file)", imnet_stages.at(k), expected);
          c.check(name + " (model.pretrained)", pretrained_stages.at(k), expected);
        }
      } else {
        ADD_FAILURE() << "golden dataset " << g << "/" << name << " is not understood by this test";
      }
    }
  }
  EXPECT_GT(c.checked, 0);
  std::cout << "[parity] " << g << ": " << c.checked << " comparisons, max rel_err " << c.worst << "\n";
}

// ResNet depth from the state dict: number of blocks in layer3.
std::string resnet_from_state_dict(const storage::StateDict& sd) {
  std::set<int> blocks;
  const std::regex re("layer3\\.([0-9]+)\\..*");
  std::smatch m;
  for (const auto& kv : sd)
    if (std::regex_match(kv.first, m, re)) blocks.insert(std::stoi(m[1]));
  return blocks.size() == 6 ? "resnet50" : "resnet101";
}

TEST_F(ParityTest, AdventEveryGoldenOutput) {
  torch::NoGradGuard no_grad;
  const std::string g = "/advent";
  const auto ckpt = test::parity_weights(h5_->string_attr(g, "checkpoint"));
  const auto disc_file = test::parity_weights(h5_->string_attr(g, "discriminator"));
  // "get_deeplab_v2(num_classes=19, multi_level=True)"
  const auto desc = h5_->string_attr(g, "model");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(desc, m, std::regex("num_classes=([0-9]+)"))) << desc;
  ModelSpec spec;
  spec.num_classes = std::stoi(m[1]);
  spec.multi_level = desc.find("multi_level=False") == std::string::npos;
  const auto sd = storage::read_pth_state_dict(ckpt);
  spec.backbone = resnet_from_state_dict(sd);
  spec.head = "deeplabv2";
  spec.options.align_corners = true;  // ADVENT eval_UDA.py upsampling
  auto net = build_segmentor(spec);
  LoadOptions o;
  o.source = ckpt;
  load_state_dict(*net, sd, o);
  net->eval();

  const auto dsd = storage::read_pth_state_dict(disc_file);
  const auto* w0 = storage::find_tensor(dsd, "0.weight");
  ASSERT_NE(w0, nullptr);
  auto disc = make_fc_discriminator(w0->shape[1], w0->shape[0]);
  LoadOptions od;
  od.source = disc_file;
  load_state_dict(*disc, dsd, od);
  disc->eval();

  Checker c{g};
  std::map<std::string, std::vector<std::string>> by_size;
  for (const auto& name : h5_->datasets(g)) by_size[split_name(name).second].push_back(name);
  for (const auto& [size, names] : by_size) {
    std::map<std::string, torch::Tensor> ds;
    for (const auto& name : names) ds[split_name(name).first] = h5_->read(g + "/" + name);
    SegmentorOutput out;
    if (ds.count("input")) out = net->forward(ds["input"]);
    for (const auto& [kind, expected] : ds) {
      const auto name = kind + "_" + size;
      if (kind == "input" || kind == "disc_input" || kind == "entropy_input") continue;
      if (kind == "image_rgb") {
        c.check("input_" + size + " (advent_preprocess)", advent_preprocess(expected), ds.at("input"));
      } else if (kind == "pred_aux") {
        c.check(name, out.aux, expected);
      } else if (kind == "pred_main") {
        c.check(name, out.logits, expected);
      } else if (kind == "pred_main_upsampled") {
        c.check(name, resize_bilinear(out.logits, expected.size(2), expected.size(3), true), expected);
        c.check(name + " (predict)", net->predict(ds.at("input")), expected);
      } else if (kind == "disc_output") {
        c.check(name, disc->forward(ds.at("disc_input")), expected);
      } else if (kind == "entropy_output") {
        c.check(name, prob_2_entropy(ds.at("entropy_input")), expected);
      } else {
        ADD_FAILURE() << "golden dataset " << g << "/" << name << " is not understood by this test";
      }
    }
  }
  EXPECT_GT(c.checked, 0);
  std::cout << "[parity] " << g << ": " << c.checked << " comparisons, max rel_err " << c.worst << "\n";
}

}  // namespace
}  // namespace uda::models
