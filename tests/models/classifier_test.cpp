// Classifier networks without Python: assembly from config and the key
// vocabulary, validation errors, the featurizer/classifier split, freeze_bn,
// per-sample feature dropout, DomainBed's channel adaptation and the
// replacement of a pretrained fc. Parity with PyTorch/torchvision:
// classifier_parity_test.cpp.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <array>
#include <functional>
#include <map>

#include "core/config.h"
#include "core/error.h"
#include "models/builder.h"
#include "models/classifiers/resnet_classifier.h"
#include "models/layers/sample_randomness.h"
#include "models/tensor_convert.h"
#include "models/weights.h"
#include "storage/pth_writer.h"
#include "tests/support/test_support.h"

namespace uda::models {
namespace {

ModelSpec classifier_spec(const std::string& backbone, const std::string& head = "linear", int64_t classes = 4) {
  ModelSpec s;
  s.backbone = backbone;
  s.head = head;
  s.num_classes = classes;
  return s;
}

std::vector<std::string> keys_of(torch::nn::Module& net) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : state_dict(net)) keys.push_back(k);
  return keys;
}

std::map<std::string, std::vector<int64_t>> shapes_of(torch::nn::Module& net) {
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& [k, v] : state_dict(net)) shapes[k] = v.shape;
  return shapes;
}

TEST(Classifiers, MnistCnnFromConfigHasDomainBedKeys) {
  auto cfg = config::from_json(nlohmann::json::parse(R"({"model": {"backbone": {"type": "mnist_cnn"},
      "head": {"type": "linear"}, "num_classes": 10, "in_channels": 1}})"),
                               "test.json");
  EXPECT_EQ(cfg.at("model.dropout"), 0.0);  // defaults filled
  EXPECT_EQ(cfg.at("model.freeze_bn"), true);
  auto net = build_classifier(cfg);
  EXPECT_EQ(net->feature_dim(), 128);
  EXPECT_EQ(net->num_classes(), 10);
  // DomainBed MNIST_CNN's state dict order (convs, then GroupNorms), then fc.
  const std::vector<std::string> expected{
      "conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "conv3.weight", "conv3.bias", "conv4.weight",
      "conv4.bias",   "bn0.weight", "bn0.bias",     "bn1.weight", "bn1.bias",     "bn2.weight", "bn2.bias",
      "bn3.weight",   "bn3.bias",   "fc.weight",    "fc.bias"};
  EXPECT_EQ(keys_of(*net), expected);
  auto shapes = shapes_of(*net);
  EXPECT_EQ(shapes["conv1.weight"], (std::vector<int64_t>{64, 1, 3, 3}));
  EXPECT_EQ(shapes["conv2.weight"], (std::vector<int64_t>{128, 64, 3, 3}));
  EXPECT_EQ(shapes["fc.weight"], (std::vector<int64_t>{10, 128}));
  net->eval();
  torch::NoGradGuard g;
  EXPECT_EQ(net->features(torch::rand({5, 1, 28, 28})).sizes(), (std::vector<int64_t>{5, 128}));
}

TEST(Classifiers, MlpHeadIsDomainBedsNonlinearClassifier) {
  auto s = classifier_spec("mnist_cnn", "mlp", 3);
  s.in_channels = 2;
  auto net = build_classifier(s);
  auto shapes = shapes_of(*net);
  EXPECT_EQ(shapes["fc.0.weight"], (std::vector<int64_t>{64, 128}));
  EXPECT_EQ(shapes["fc.2.weight"], (std::vector<int64_t>{32, 64}));
  EXPECT_EQ(shapes["fc.4.weight"], (std::vector<int64_t>{3, 32}));
  EXPECT_EQ(shapes["fc.4.bias"], (std::vector<int64_t>{3}));
  EXPECT_EQ(shapes.count("fc.weight"), 0u);
}

TEST(Classifiers, ResNetsFollowTorchvisionLayout) {
  auto r18 = build_classifier(classifier_spec("resnet18", "linear", 7));
  EXPECT_EQ(r18->feature_dim(), 512);
  auto k18 = shapes_of(*r18);
  EXPECT_EQ(k18.size(), 122u);  // as torchvision resnet18().state_dict()
  EXPECT_EQ(k18["layer2.0.downsample.0.weight"], (std::vector<int64_t>{128, 64, 1, 1}));
  EXPECT_EQ(k18["fc.weight"], (std::vector<int64_t>{7, 512}));
  EXPECT_EQ(k18.count("layer1.0.downsample.0.weight"), 0u);  // BasicBlock: same width, stride 1
  EXPECT_EQ(k18.count("layer1.0.conv3.weight"), 0u);

  auto r50 = build_classifier(classifier_spec("resnet50", "linear", 7));
  EXPECT_EQ(r50->feature_dim(), 2048);
  auto k50 = shapes_of(*r50);
  EXPECT_EQ(k50.size(), 320u);  // as torchvision resnet50().state_dict()
  EXPECT_EQ(k50["layer1.0.downsample.0.weight"], (std::vector<int64_t>{256, 64, 1, 1}));
  EXPECT_EQ(k50["layer4.2.conv3.weight"], (std::vector<int64_t>{2048, 512, 1, 1}));
  // ResNet v1.5: the stride sits on the 3x3 conv2 of a Bottleneck, no dilation.
  auto modules = r50->named_modules();
  auto conv = [&](const std::string& name) { return modules[name]->as<torch::nn::Conv2dImpl>()->options; };
  using Pair = std::array<int64_t, 2>;
  EXPECT_EQ(*conv("layer2.0.conv1").stride(), (Pair{1, 1}));
  EXPECT_EQ(*conv("layer2.0.conv2").stride(), (Pair{2, 2}));
  EXPECT_EQ(*conv("layer2.0.downsample.0").stride(), (Pair{2, 2}));
  EXPECT_EQ(*conv("layer4.0.conv2").dilation(), (Pair{1, 1}));
  r50->eval();
  torch::NoGradGuard g;
  // 64 -> 32 (conv1) -> 16 (max pool, no ceil mode) -> 16, 8, 4, 2 -> pooled.
  EXPECT_EQ(r50->forward(torch::randn({2, 3, 64, 64})).sizes(), (std::vector<int64_t>{2, 7}));
}

void expect_user_error(const std::function<void()>& f, const std::string& key) {
  try {
    f();
    ADD_FAILURE() << "expected a UserError naming " << key;
  } catch (const UserError& e) {
    EXPECT_EQ(e.where(), key) << e.line();
    EXPECT_FALSE(e.fix().empty()) << e.line();
  }
}

TEST(Classifiers, InvalidCombinationsAreUserErrorsNamingTheKey) {
  expect_user_error([] { build_classifier(classifier_spec("mit_b0")); }, "model.backbone.type");
  expect_user_error([] { build_classifier(classifier_spec("resnet18", "daformer")); }, "model.head.type");
  expect_user_error([] { build_classifier(classifier_spec("resnet18", "linear", 0)); }, "model.num_classes");
  expect_user_error(
      [] {
        auto s = classifier_spec("mnist_cnn");
        s.in_channels = 0;
        build_classifier(s);
      },
      "model.in_channels");
  for (double p : {1.0, -0.1}) {
    expect_user_error(
        [p] {
          auto s = classifier_spec("resnet18");
          s.dropout = p;
          build_classifier(s);
        },
        "model.dropout");
  }
  // Classifier heads and backbones do not make segmentors, and vice versa.
  expect_user_error([] { build_segmentor(classifier_spec("resnet50", "linear")); }, "model.head.type");
  expect_user_error([] { build_segmentor(classifier_spec("mnist_cnn", "daformer")); }, "model.backbone.type");
  expect_user_error([] { build_segmentor(classifier_spec("resnet18", "deeplabv2")); }, "model.backbone.type");
  expect_user_error(
      [] {
        auto s = classifier_spec("resnet101", "deeplabv2");
        s.in_channels = 1;
        build_segmentor(s);
      },
      "model.in_channels");
  expect_user_error(
      [] {
        auto s = classifier_spec("resnet101", "deeplabv2");
        s.norm = "asr_norm";
        build_segmentor(s);
      },
      "model.norm");
  EXPECT_THROW(config::from_json(nlohmann::json::parse(R"({"model": {"backbone": {"type": "resnet152"}}})"), "t.json"),
               UserError);
}

TEST(Classifiers, FeaturizerAndClassifierComposeToForward) {
  for (const auto& [backbone, head] : std::vector<std::pair<std::string, std::string>>{
           {"mnist_cnn", "linear"}, {"mnist_cnn", "mlp"}, {"resnet18", "linear"}, {"resnet50", "mlp"}}) {
    auto s = classifier_spec(backbone, head, 5);
    s.dropout = 0.5;  // identity in eval mode
    auto net = build_classifier(s);
    net->eval();
    torch::NoGradGuard g;
    auto x = backbone == "mnist_cnn" ? torch::rand({3, 3, 28, 28}) : torch::randn({3, 3, 64, 64});
    auto f = net->features(x);
    EXPECT_EQ(f.sizes(), (std::vector<int64_t>{3, net->feature_dim()})) << backbone;
    auto logits = net->classify(f);
    EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{3, 5})) << backbone;
    EXPECT_TRUE(net->forward(x).equal(logits)) << backbone << " " << head;
  }
}

std::vector<torch::Tensor> running_stats(torch::nn::Module& net) {
  std::vector<torch::Tensor> out;
  for (const auto& b : net.named_buffers()) out.push_back(b.value().clone());
  return out;
}

bool all_equal(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  for (size_t i = 0; i < a.size(); ++i)
    if (!a[i].equal(b[i])) return false;
  return a.size() == b.size();
}

// One SGD step on a cross-entropy loss in train mode.
void train_step(ClassifierImpl& net) {
  net.train();
  torch::optim::SGD opt(net.parameters(), torch::optim::SGDOptions(0.1));
  auto loss = torch::nn::functional::cross_entropy(net.forward(torch::randn({4, 3, 32, 32})),
                                                   torch::tensor({0, 1, 2, 3}, torch::kLong));
  opt.zero_grad();
  loss.backward();
  opt.step();
}

TEST(Classifiers, FreezeBnKeepsRunningStatisticsWhileAffineParametersTrain) {
  auto s = classifier_spec("resnet18");
  ASSERT_TRUE(s.freeze_bn);  // the default
  auto frozen = build_classifier(s);
  frozen->train();
  EXPECT_TRUE(frozen->is_training());
  for (const auto& m : frozen->named_modules()) {
    if (m.value()->as<torch::nn::BatchNorm2dImpl>()) {
      EXPECT_FALSE(m.value()->is_training()) << m.key();
    }
  }
  const auto before = running_stats(*frozen);
  const auto bn_weight = frozen->named_parameters()["layer1.0.bn1.weight"].clone();
  train_step(*frozen);
  EXPECT_TRUE(all_equal(running_stats(*frozen), before));
  EXPECT_FALSE(frozen->named_parameters()["layer1.0.bn1.weight"].equal(bn_weight));  // affine still trains
  frozen->eval();
  frozen->train();
  EXPECT_FALSE(frozen->named_modules()["bn1"]->is_training());

  s.freeze_bn = false;
  auto free = build_classifier(s);
  const auto free_before = running_stats(*free);
  train_step(*free);
  EXPECT_FALSE(all_equal(running_stats(*free), free_before));
  EXPECT_TRUE(free->named_modules()["bn1"]->is_training());
}

TEST(Classifiers, FeatureDropoutIsDrawnPerSample) {
  for (const std::string backbone : {"mnist_cnn", "resnet18"}) {
    auto s = classifier_spec(backbone);
    s.dropout = 0.5;  // freeze_bn (default): a ResNet sample's features do not depend on its batch
    auto net = build_classifier(s);
    net->train();
    torch::NoGradGuard g;
    const auto x = torch::rand({3, 3, 32, 32});
    torch::Tensor batch, alone, clean;
    {
      SampleKeyScope scope({11, 22, 33});
      batch = net->features(x);
    }
    {
      SampleKeyScope scope({22});  // the middle sample alone, as another rank would see it
      alone = net->features(x.narrow(0, 1, 1));
    }
    net->eval();
    clean = net->features(x);
    EXPECT_TRUE((batch[1] == 0).equal(alone[0] == 0)) << backbone << ": same mask whatever the batch";
    EXPECT_TRUE(torch::allclose(batch[1], alone[0], 1e-5, 1e-6)) << backbone;
    EXPECT_FALSE((batch[0] == 0).equal(batch[1] == 0)) << backbone << ": different samples, different masks";
    // Inverted dropout on the features: kept ones scaled by 1 / (1 - p),
    // about half of the (nonzero) features dropped.
    const auto kept = batch != 0;
    EXPECT_TRUE(torch::allclose(batch.masked_select(kept), clean.masked_select(kept) * 2, 1e-5, 1e-6)) << backbone;
    const auto nonzero = (clean != 0).sum().item<double>();
    EXPECT_NEAR(kept.sum().item<double>() / nonzero, 0.5, 0.1) << backbone;
  }
}

TEST(Classifiers, ChannelAdaptationCopiesPretrainedChannelIModulo3) {
  storage::StateDict sd{{"conv1.weight", from_torch(torch::arange(64 * 3 * 49, torch::kFloat).view({64, 3, 7, 7}))},
                        {"bn1.weight", from_torch(torch::ones({64}))}};
  const auto original = to_torch(sd[0].second);
  for (int64_t nc : {1, 2, 3, 5}) {
    auto copy = sd;
    adapt_input_channels(copy, "conv1.weight", nc);
    const auto w = to_torch(copy[0].second);
    ASSERT_EQ(w.sizes(), (std::vector<int64_t>{64, nc, 7, 7}));
    for (int64_t i = 0; i < nc; ++i) EXPECT_TRUE(w.select(1, i).equal(original.select(1, i % 3))) << nc << " " << i;
    EXPECT_EQ(copy[1].second.shape, (std::vector<int64_t>{64}));
  }
}

TEST(Classifiers, PretrainedResNetLoadsWithAdaptedStemAndReplacedFc) {
  test::TempDir dir;
  const std::string file = dir / "resnet18_imagenet.pth";
  auto imagenet = build_classifier(classifier_spec("resnet18", "linear", 1000));
  storage::write_pth(file, state_dict(*imagenet));
  const auto src = imagenet->named_parameters();

  // Another num_classes and 2 channels (ColoredMNIST): the stem is adapted, fc
  // replaced and reported as the expected mismatch, everything else loads.
  auto s = classifier_spec("resnet18", "linear", 5);
  s.in_channels = 2;
  s.pretrained = file;
  auto net = build_classifier(s);
  auto report = load_pretrained(*net, s);
  EXPECT_EQ(report.missing, (std::vector<std::string>{"fc.bias", "fc.weight"})) << report.summary();
  EXPECT_EQ(report.unexpected, (std::vector<std::string>{"fc.bias", "fc.weight"})) << report.summary();
  EXPECT_EQ(report.loaded, state_dict(*net).size() - 2);
  const auto params = net->named_parameters();
  for (int64_t i = 0; i < 2; ++i)
    EXPECT_TRUE(params["conv1.weight"].select(1, i).equal(src["conv1.weight"].select(1, i % 3)));
  EXPECT_TRUE(params["layer3.1.conv2.weight"].equal(src["layer3.1.conv2.weight"]));

  // The same head: fc loads too, nothing missing (a whole ImageNet classifier).
  auto same = classifier_spec("resnet18", "linear", 1000);
  same.pretrained = file;
  auto full = build_classifier(same);
  auto full_report = load_pretrained(*full, same);
  EXPECT_TRUE(full_report.missing.empty() && full_report.unexpected.empty()) << full_report.summary();
  EXPECT_TRUE(full->named_parameters()["fc.weight"].equal(src["fc.weight"]));

  // The featurizer loads strictly: a file of another depth is a UserError.
  auto wrong = classifier_spec("resnet34");
  wrong.pretrained = file;
  auto r34 = build_classifier(wrong);
  EXPECT_THROW(load_pretrained(*r34, wrong), UserError);
}

// model.norm = asr_norm on a ResNet: every BatchNorm (stem, blocks,
// downsamples) becomes an ASR-Norm layer under its key, the forward and
// every ASR parameter's gradient work, and a torchvision file loads with its
// BatchNorm entries left out (the ASR layers keep their initialisation).
TEST(Classifiers, AsrNormReplacesEveryResNetBatchNorm) {
  for (const char* name : {"resnet18", "resnet50"}) {
    auto s = classifier_spec(name, "linear", 4);
    s.norm = "asr_norm";
    auto net = build_classifier(s);
    int64_t asr = 0;
    for (const auto& m : net->named_modules("", false)) {
      EXPECT_EQ(m.value()->as<torch::nn::BatchNorm2dImpl>(), nullptr) << name << " " << m.key();
      if (m.value()->as<AsrNormImpl>()) ++asr;
    }
    // resnet18: stem 1 + 8 blocks x 2 + 3 downsamples; resnet50: 1 + 16 x 3 + 4.
    EXPECT_EQ(asr, std::string(name) == "resnet18" ? 20 : 53) << name;
    const auto params = net->named_parameters();
    EXPECT_TRUE(params.contains("bn1.lambda_mu")) << name;
    EXPECT_TRUE(params.contains("layer2.0.downsample.1.standard_encoder.weight")) << name;
    net->forward(torch::randn({2, 3, 32, 32})).pow(2).sum().backward();
    for (const auto& p : params)
      if (p.key().find("lambda_") != std::string::npos) {
        ASSERT_TRUE(p.value().grad().defined()) << name << " " << p.key();
      }
  }
  test::TempDir dir;
  const std::string file = dir / "resnet18_imagenet.pth";
  auto imagenet = build_classifier(classifier_spec("resnet18", "linear", 1000));
  storage::write_pth(file, state_dict(*imagenet));
  auto s = classifier_spec("resnet18", "linear", 1000);
  s.norm = "asr_norm";
  s.pretrained = file;
  auto net = build_classifier(s);
  const auto asr_before = net->named_parameters()["layer1.0.bn1.standard_encoder.weight"].clone();
  auto report = load_pretrained(*net, s);
  EXPECT_TRUE(report.missing.empty() && report.unexpected.empty()) << report.summary();
  EXPECT_TRUE(net->named_parameters()["layer3.1.conv2.weight"].equal(imagenet->named_parameters()["layer3.1.conv2.weight"]));
  EXPECT_TRUE(net->named_parameters()["fc.weight"].equal(imagenet->named_parameters()["fc.weight"]));
  // The ASR layers keep their own initialisation.
  EXPECT_TRUE(net->named_parameters()["layer1.0.bn1.standard_encoder.weight"].equal(asr_before));
}

}  // namespace
}  // namespace uda::models
