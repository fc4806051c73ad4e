// Dynamic Convolution and CondConv (models/layers/dynamic_conv.h):
//  - the official Dynamic_conv2d's outputs and attention on fixed inputs
//    (tests/fixtures/dynamic/golden.json, scripts/make_dynamic_golden.py);
//  - K identical experts compute the static convolution;
//  - the batched (grouped) form equals a per-sample loop of convolutions;
//  - the temperature schedule, the attention and routing shapes, the
//    schedule reaching the layers through set_training_iteration and living
//    in the state dict;
//  - gradients against central finite differences (float64);
//  - the networks built by model.conv.* and their bad-input errors.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <functional>

#include "core/error.h"
#include "models/builder.h"
#include "models/layers/dynamic_conv.h"
#include "models/layers/iteration_schedule.h"

namespace uda::models {
namespace {

namespace nn = torch::nn;

torch::Tensor formula_input(std::vector<int64_t> shape) {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  return torch::sin(0.013 * torch::arange(n, torch::kDouble) + 0.1).view(shape);
}

TEST(DynamicConv, MatchesOfficialImplementation) {
  std::ifstream f(std::string(UDA_SOURCE_DIR) + "/tests/fixtures/dynamic/golden.json");
  ASSERT_TRUE(f.good());
  const auto golden = nlohmann::json::parse(f);
  ASSERT_GE(golden["dynamic_conv"].size(), 9u);
  for (const auto& c : golden["dynamic_conv"]) {
    DynamicConvOptions o;
    o.experts = 4;
    const auto k = c["kernel"].get<int64_t>();
    DynamicConv2d m(nn::Conv2dOptions(c["in"].get<int64_t>(), c["out"].get<int64_t>(), k)
                        .stride(c["stride"].get<int64_t>())
                        .padding(c["padding"].get<int64_t>())
                        .bias(c["bias"].get<bool>()),
                    o);
    m->to(torch::kDouble);
    m->set_temperature(c["temperature"].get<double>());
    auto params = m->named_parameters();
    const auto names = c["param_names"].get<std::vector<std::string>>();
    ASSERT_EQ(params.size(), names.size());
    {
      torch::NoGradGuard g;
      for (size_t t = 0; t < names.size(); ++t) {
        auto* p = params.find(names[t]);
        ASSERT_NE(p, nullptr) << names[t] << ": the official key must exist";
        ASSERT_EQ(p->sizes().vec(), c["param_shapes"][t].get<std::vector<int64_t>>()) << names[t];
        const auto q = torch::arange(p->numel(), torch::kDouble);
        p->copy_((0.3 * torch::sin(0.37 * q + 1.1 * static_cast<double>(t) + 0.5)).view(p->sizes()));
      }
    }
    const auto n = c["n"].get<int64_t>(), hw = c["hw"].get<int64_t>();
    const auto x = formula_input({n, c["in"].get<int64_t>(), hw, hw});
    const auto y = m->forward(x);
    ASSERT_EQ(y.sizes().vec(), c["out_shape"].get<std::vector<int64_t>>());
    EXPECT_NEAR(y.sum().item<double>(), c["out_sum"].get<double>(), 1e-10);
    EXPECT_NEAR(y.abs().sum().item<double>(), c["out_abs_sum"].get<double>(), 1e-10);
    const auto flat = y.reshape(-1);
    for (size_t i = 0; i < c["out_index"].size(); ++i)
      EXPECT_NEAR(flat[c["out_index"][i].get<int64_t>()].item<double>(), c["out_values"][i].get<double>(), 1e-12);
    const auto att = m->attention(x);
    for (int64_t r = 0; r < n; ++r)
      for (int64_t j = 0; j < 4; ++j)
        EXPECT_NEAR(att[r][j].item<double>(), c["attention"][r][j].get<double>(), 1e-13);
  }
}

TEST(DynamicConv, IdenticalKernelsEqualStaticConvolution) {
  torch::manual_seed(3);
  const auto opts = nn::Conv2dOptions(5, 7, 3).stride(2).padding(1).bias(true);
  nn::Conv2d plain(opts);
  DynamicConv2d dyn(opts, DynamicConvOptions{});
  CondConv2d cond(opts, 4);
  {
    torch::NoGradGuard g;
    for (int64_t k = 0; k < 4; ++k) {
      dyn->weight[k].copy_(plain->weight);
      dyn->bias[k].copy_(plain->bias);
      cond->weight[k].copy_(plain->weight);
      cond->bias[k].copy_(plain->bias);
    }
  }
  const auto x = torch::randn({6, 5, 9, 9});
  const auto expected = plain->forward(x);
  for (double tau : {30.0, 1.0}) {
    dyn->set_temperature(tau);
    EXPECT_LT((dyn->forward(x) - expected).abs().max().item<double>(), 1e-5) << "tau " << tau;
  }
  // CondConv's routing does not sum to 1 (sigmoid); with rows that do, the
  // identical experts give the static convolution.
  auto r = torch::rand({6, 4});
  r = r / r.sum(1, true);
  EXPECT_LT((cond->forward(x, r) - expected).abs().max().item<double>(), 1e-5);
}

TEST(DynamicConv, BatchedFormEqualsPerSampleLoop) {
  torch::manual_seed(5);
  const auto opts = nn::Conv2dOptions(4, 6, 3).stride(1).padding(2).dilation(2).groups(2).bias(true);
  DynamicConv2d dyn(opts, DynamicConvOptions{});
  dyn->set_temperature(1.0);
  CondConv2d cond(opts, 8);
  CondConvRouting route(4, 8);
  const auto x = torch::randn({5, 4, 8, 8});
  const auto pi = dyn->attention(x);
  const auto r = route->forward(x);
  const auto batched_dyn = dyn->forward(x);
  const auto batched_cond = cond->forward(x, r);
  for (int64_t n = 0; n < 5; ++n) {
    // One sample, one kernel: sum_k pi_k W_k and sum_k pi_k b_k ([dy] eq. 1; [cc] eq. 1).
    auto w = torch::zeros_like(dyn->weight[0]);
    auto b = torch::zeros_like(dyn->bias[0]);
    auto wc = torch::zeros_like(cond->weight[0]);
    auto bc = torch::zeros_like(cond->bias[0]);
    for (int64_t k = 0; k < 4; ++k) {
      w += pi[n][k] * dyn->weight[k];
      b += pi[n][k] * dyn->bias[k];
    }
    for (int64_t e = 0; e < 8; ++e) {
      wc += r[n][e] * cond->weight[e];
      bc += r[n][e] * cond->bias[e];
    }
    const auto xn = x.slice(0, n, n + 1);
    const auto one = torch::conv2d(xn, w, b, 1, 2, 2, 2);
    const auto one_c = torch::conv2d(xn, wc, bc, 1, 2, 2, 2);
    EXPECT_LT((batched_dyn.slice(0, n, n + 1) - one).abs().max().item<double>(), 1e-5) << "sample " << n;
    EXPECT_LT((batched_cond.slice(0, n, n + 1) - one_c).abs().max().item<double>(), 1e-5) << "sample " << n;
  }
}

TEST(DynamicConv, TemperatureScheduleAndShapes) {
  EXPECT_DOUBLE_EQ(dynamic_conv_temperature(0, 30, 100), 30.0);
  EXPECT_DOUBLE_EQ(dynamic_conv_temperature(50, 30, 100), 15.5);
  EXPECT_DOUBLE_EQ(dynamic_conv_temperature(99, 30, 100), 30 - 29 * 0.99);
  EXPECT_DOUBLE_EQ(dynamic_conv_temperature(100, 30, 100), 1.0);
  EXPECT_DOUBLE_EQ(dynamic_conv_temperature(10000, 30, 100), 1.0);
  EXPECT_DOUBLE_EQ(dynamic_conv_temperature(5, 30, 0), 1.0);

  ModelSpec s;
  s.backbone = "mnist_cnn";
  s.head = "linear";
  s.num_classes = 3;
  s.in_channels = 1;
  s.conv_type = "dynamic";
  s.temperature_iters = 10;
  auto net = build_classifier(s);
  const auto sd = net->named_buffers();
  ASSERT_NE(sd.find("conv2.attention.temperature"), nullptr) << "the temperature lives in the checkpoint";
  EXPECT_EQ(sd.find("conv1.attention.temperature"), nullptr) << "conv1 stays static by default";
  EXPECT_DOUBLE_EQ(sd["conv3.attention.temperature"].item<double>(), 30.0);
  set_training_iteration(*net, 5);
  for (const char* k : {"conv2.attention.temperature", "conv3.attention.temperature", "conv4.attention.temperature"})
    EXPECT_DOUBLE_EQ(net->named_buffers()[k].item<double>(), 15.5) << k;
  set_training_iteration(*net, 20);
  EXPECT_DOUBLE_EQ(net->named_buffers()["conv4.attention.temperature"].item<double>(), 1.0);
  EXPECT_EQ(net->named_parameters()["conv2.weight"].sizes().vec(), (std::vector<int64_t>{4, 128, 64, 3, 3}));

  DynamicConv2d dyn(nn::Conv2dOptions(16, 8, 3).padding(1), DynamicConvOptions{});
  const auto x = torch::randn({3, 16, 5, 5});
  dyn->set_temperature(1.0);
  const auto pi = dyn->attention(x);
  EXPECT_EQ(pi.sizes().vec(), (std::vector<int64_t>{3, 4}));
  EXPECT_LT((pi.sum(1) - 1).abs().max().item<double>(), 1e-6);
  dyn->set_temperature(1e6);  // a high temperature makes the attention uniform
  EXPECT_LT((dyn->attention(x) - 0.25).abs().max().item<double>(), 1e-5);
  // [dy] hidden = int(16 * 0.25) + 1 = 5
  EXPECT_EQ(dyn->named_parameters()["attention.fc1.weight"].sizes().vec(), (std::vector<int64_t>{5, 16, 1, 1}));

  CondConvRouting route(16, 8);
  const auto r = route->forward(x);
  EXPECT_EQ(r.sizes().vec(), (std::vector<int64_t>{3, 8}));
  EXPECT_TRUE((r > 0).all().item<bool>() && (r < 1).all().item<bool>());
}

TEST(DynamicConv, CondConvExpertsInitialisedIndependently) {
  torch::manual_seed(0);
  CondConv2d cond(nn::Conv2dOptions(8, 8, 3), 4);
  for (int64_t a = 0; a < 4; ++a)
    for (int64_t b = a + 1; b < 4; ++b) EXPECT_GT((cond->weight[a] - cond->weight[b]).abs().max().item<double>(), 1e-3);
  // PyTorch's Conv2d default per expert: |w| <= 1/sqrt(fan_in) (kaiming_uniform a = sqrt(5)).
  EXPECT_LE(cond->weight.abs().max().item<double>(), 1.0 / std::sqrt(72.0) + 1e-7);
}

// Central differences of a scalar function of a tensor's elements.
void expect_gradient(const std::function<torch::Tensor()>& loss, torch::Tensor p, const std::string& what) {
  p.mutable_grad() = torch::Tensor();
  loss().backward();
  const auto g = p.grad().clone();
  auto flat = p.detach().view(-1);
  const int64_t n = flat.numel();
  for (int64_t i = 0; i < n; i += std::max<int64_t>(1, n / 7)) {
    const double h = 1e-6, old = flat[i].item<double>();
    torch::NoGradGuard ng;
    flat[i] = old + h;
    const double up = loss().item<double>();
    flat[i] = old - h;
    const double down = loss().item<double>();
    flat[i] = old;
    const double numeric = (up - down) / (2 * h);
    EXPECT_NEAR(g.view(-1)[i].item<double>(), numeric, 1e-6 * std::max(1.0, std::abs(numeric))) << what << "[" << i << "]";
  }
}

TEST(DynamicConv, GradientsMatchFiniteDifferences) {
  torch::manual_seed(1);
  DynamicConvOptions o;
  o.experts = 3;
  DynamicConv2d dyn(nn::Conv2dOptions(4, 3, 3).padding(1).bias(true), o);
  dyn->to(torch::kDouble);
  dyn->set_temperature(2.0);
  CondConv2d cond(nn::Conv2dOptions(4, 3, 3).stride(2).bias(true), 3);
  CondConvRouting route(4, 3);
  cond->to(torch::kDouble);
  route->to(torch::kDouble);
  auto x = torch::randn({2, 4, 5, 5}, torch::kDouble).requires_grad_();
  const auto target = torch::randn({2, 3, 5, 5}, torch::kDouble);
  auto dyn_loss = [&] { return (dyn->forward(x) * target).sum() + dyn->forward(x).pow(2).sum() * 0.1; };
  for (auto& kv : dyn->named_parameters()) expect_gradient(dyn_loss, kv.value(), "dynamic " + kv.key());
  expect_gradient(dyn_loss, x, "dynamic input");
  const auto t2 = torch::randn({2, 3, 2, 2}, torch::kDouble);
  auto cond_loss = [&] { return (cond->forward(x, route->forward(x)) * t2).sum(); };
  for (auto& kv : cond->named_parameters()) expect_gradient(cond_loss, kv.value(), "condconv " + kv.key());
  for (auto& kv : route->named_parameters()) expect_gradient(cond_loss, kv.value(), "routing " + kv.key());
  expect_gradient(cond_loss, x, "condconv input");
}

ModelSpec classifier(const std::string& backbone, const std::string& conv) {
  ModelSpec s;
  s.backbone = backbone;
  s.head = "linear";
  s.num_classes = 4;
  s.in_channels = 1;
  s.conv_type = conv;
  return s;
}

TEST(DynamicConv, NetworksBuildFromConfig) {
  torch::manual_seed(0);
  // static keeps MNIST_CNN's keys and draws exactly.
  auto a = build_classifier(classifier("mnist_cnn", "static"));
  torch::manual_seed(0);
  auto b = build_classifier(classifier("mnist_cnn", "static"));
  EXPECT_TRUE(torch::equal(a->named_parameters()["conv3.weight"], b->named_parameters()["conv3.weight"]));
  EXPECT_EQ(a->named_parameters()["conv3.weight"].sizes().vec(), (std::vector<int64_t>{128, 128, 3, 3}));

  auto cs = classifier("mnist_cnn", "condconv");
  cs.conv_experts = 8;
  cs.conv_layers = {"conv4"};
  auto c = build_classifier(cs);
  EXPECT_EQ(c->named_parameters()["conv4.weight"].sizes().vec(), (std::vector<int64_t>{8, 128, 128, 3, 3}));
  EXPECT_EQ(c->named_parameters()["route4.fc.weight"].sizes().vec(), (std::vector<int64_t>{8, 128}));
  EXPECT_EQ(c->named_parameters()["conv3.weight"].dim(), 4) << "conv3 is not in model.conv.layers";
  EXPECT_EQ(c->forward(torch::randn({3, 1, 28, 28})).sizes().vec(), (std::vector<int64_t>{3, 4}));

  for (const char* type : {"dynamic", "condconv"}) {
    auto rs = classifier("resnet18", type);
    rs.conv_layers = {"layer3", "layer4"};
    auto r = build_classifier(rs);
    const auto ps = r->named_parameters();
    EXPECT_EQ(ps["layer4.1.conv2.weight"].dim(), 5) << type;
    EXPECT_EQ(ps["layer2.0.conv1.weight"].dim(), 4) << type;
    EXPECT_EQ(ps["layer3.0.downsample.0.weight"].dim(), 4) << type << ": the downsample stays static";
    if (std::string(type) == "condconv") EXPECT_NE(ps.find("layer3.0.routing.fc.weight"), nullptr);
    r->eval();
    EXPECT_EQ(r->forward(torch::randn({2, 1, 32, 32})).sizes().vec(), (std::vector<int64_t>{2, 4})) << type;
  }
}

TEST(DynamicConv, BadConfigurationsNameTheKey) {
  auto s = classifier("mnist_cnn", "dynamic");
  s.conv_experts = 0;
  try {
    build_classifier(s);
    FAIL() << "experts 0 must be refused";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("model.conv.experts"), std::string::npos) << e.what();
  }
  s = classifier("resnet18", "condconv");
  s.conv_layers = {"conv2"};
  try {
    build_classifier(s);
    FAIL() << "an unknown layer must be refused";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("model.conv.layers"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("layer1"), std::string::npos) << "lists the valid names: " << e.what();
  }
}

}  // namespace
}  // namespace uda::models
