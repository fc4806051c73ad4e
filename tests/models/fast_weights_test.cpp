// The functional forward with substituted parameters
// (models/layers/fast_weights.h): with the original values it is the
// module's forward; with other values it is the forward of a copy holding
// them; gradients of a second-order objective L_b(θ − α ∇L_a(θ)) through it
// match central finite differences (double precision).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "models/builder.h"
#include "models/classifiers/classifier.h"
#include "models/layers/fast_weights.h"
#include "models/sync_batch_norm.h"

namespace uda::models {
namespace {

Classifier make(const std::string& backbone, const std::string& head, int64_t in_channels, bool freeze_bn,
                int64_t classes = 5) {
  ModelSpec s;
  s.backbone = backbone;
  s.head = head;
  s.num_classes = classes;
  s.in_channels = in_channels;
  s.freeze_bn = freeze_bn;
  return build_classifier(s);
}

std::vector<at::Tensor> params_of(torch::nn::Module& m) {
  std::vector<at::Tensor> out;
  for (auto& p : m.parameters()) out.push_back(p);
  return out;
}

// θ + scale · (a deterministic perturbation), as fresh tensors.
std::vector<at::Tensor> perturbed(const std::vector<at::Tensor>& ps, double scale, uint64_t seed) {
  auto g = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<at::Tensor> out;
  for (const auto& p : ps) out.push_back(p.detach() + scale * torch::randn(p.sizes(), g, p.options()));
  return out;
}

double max_rel(const at::Tensor& a, const at::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item<double>();
}

// A second network of the same build with net's parameters and buffers.
Classifier copy_of(const Classifier& net, const std::function<Classifier()>& build) {
  auto copy = build();
  torch::NoGradGuard no_grad;
  auto src = net->named_parameters(), dst = copy->named_parameters();
  for (const auto& item : src) dst[item.key()].copy_(item.value());
  auto sb = net->named_buffers(), db = copy->named_buffers();
  for (const auto& item : sb) db[item.key()].copy_(item.value());
  return copy;
}

void check_identity_and_substitution(const std::function<Classifier()>& build, const at::Tensor& x, bool train) {
  auto net = build();
  net->train(train);
  auto ps = params_of(*net);
  torch::NoGradGuard no_grad;
  // A copy holding other values: what the substituted forward must compute.
  auto other = perturbed(ps, 0.05, 7);
  auto copy = copy_of(net, build);
  copy->train(train);
  {
    auto cps = params_of(*copy);
    for (size_t i = 0; i < cps.size(); ++i) cps[i].copy_(other[i]);
  }
  const auto reference = net->forward(x);
  std::vector<at::Tensor> same;
  for (const auto& p : ps) same.push_back(p.detach().clone());
  at::Tensor through_identity;
  {
    FastWeights scope(ps, same);  // every layer on the functional path
    through_identity = net->forward(x);
  }
  EXPECT_TRUE(torch::equal(through_identity, reference)) << "max diff "
                                                         << (through_identity - reference).abs().max().item<double>();
  at::Tensor substituted;
  {
    FastWeights scope(ps, other);
    substituted = net->forward(x);
  }
  const auto expected = copy->forward(x);
  EXPECT_LE(max_rel(substituted, expected), 1e-6);
  EXPECT_GT(max_rel(substituted, reference), 1e-3) << "the substitution had no effect";
  // Outside the scope the module computes with its own parameters again.
  EXPECT_TRUE(torch::equal(net->forward(x), reference));
}

TEST(FastWeights, MnistCnnLinearHeadEqualsModuleForwardAndCopy) {
  torch::manual_seed(1);
  check_identity_and_substitution([] { return make("mnist_cnn", "linear", 1, true); }, torch::randn({3, 1, 12, 12}),
                                  true);
}

TEST(FastWeights, MnistCnnMlpHeadEqualsModuleForwardAndCopy) {
  torch::manual_seed(2);
  check_identity_and_substitution([] { return make("mnist_cnn", "mlp", 2, true); }, torch::randn({3, 2, 12, 12}),
                                  true);
}

TEST(FastWeights, ResNet18EqualsModuleForwardAndCopyInEvalAndTrainingBatchNorm) {
  torch::manual_seed(3);
  auto x = torch::randn({2, 3, 32, 32});
  // freeze_bn: BatchNorm in eval mode (running statistics); without it the
  // training-mode BatchNorm normalises with the batch's statistics.
  check_identity_and_substitution([] { return make("resnet18", "linear", 3, true); }, x, true);
  check_identity_and_substitution([] { return make("resnet18", "linear", 3, false); }, x, true);
}

TEST(FastWeights, TrainingBatchNormUpdatesRunningStatisticsAsTheModule) {
  torch::manual_seed(4);
  const auto build = [] { return make("resnet18", "linear", 3, false); };
  auto a = build();
  auto b = copy_of(a, build);
  a->train(true);
  b->train(true);
  auto x = torch::randn({2, 3, 32, 32});
  auto ps = params_of(*a);
  std::vector<at::Tensor> same;
  for (const auto& p : ps) same.push_back(p.detach().clone());
  {
    FastWeights scope(ps, same);
    a->forward(x);
  }
  b->forward(x);
  auto ba = a->named_buffers(), bb = b->named_buffers();
  for (const auto& item : ba)
    EXPECT_TRUE(torch::equal(item.value(), bb[item.key()])) << item.key();
}

TEST(FastWeights, MismatchedReplacementIsRejected) {
  auto net = make("mnist_cnn", "linear", 1, true);
  auto ps = params_of(*net);
  std::vector<at::Tensor> bad(ps.size(), torch::zeros({1}));
  EXPECT_THROW(FastWeights(ps, bad), std::invalid_argument);
  EXPECT_THROW(FastWeights(ps, std::vector<at::Tensor>(1)), std::invalid_argument);
}

// A small smooth network of every layer kind the helpers cover (Conv2d,
// training-mode BatchNorm, GroupNorm, Linear; tanh, so that the inner
// gradient is a smooth function of θ), evaluated through the helpers.
class SmoothNetImpl : public torch::nn::Module {
 public:
  SmoothNetImpl() {
    namespace nn = torch::nn;
    conv = register_module("conv", nn::Conv2d(nn::Conv2dOptions(2, 6, 3).padding(1)));
    bn = register_module("bn", nn::BatchNorm2d(6));
    conv2 = register_module("conv2", nn::Conv2d(nn::Conv2dOptions(6, 4, 3).stride(2).padding(1).bias(false)));
    gn = register_module("gn", nn::GroupNorm(2, 4));
    fc = register_module("fc", nn::Linear(4, 3));
  }
  at::Tensor forward(const at::Tensor& x) {
    auto y = torch::tanh(batch_norm(*bn, conv2d(*conv, x)));
    y = torch::tanh(group_norm(*gn, conv2d(*conv2, y)));
    return linear(*fc, y.mean({2, 3}));
  }
  torch::nn::Conv2d conv{nullptr}, conv2{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
  torch::nn::GroupNorm gn{nullptr};
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(SmoothNet);

// ⟨∇F, v⟩ against central differences of F along random directions v. A
// ReLU network's inner gradient ∇L_a is discontinuous where a unit crosses
// zero, which makes F jump; a direction whose differences at h and h/2
// disagree crossed such a jump and is skipped (at most a few).
void expect_directional_derivatives(const std::vector<at::Tensor>& ps, const std::vector<at::Tensor>& grad,
                                    const std::function<double()>& objective, double h, double tol,
                                    const std::string& what) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
  int accepted = 0, skipped = 0;
  double worst = 0;
  for (int trial = 0; trial < 10 && accepted < 4; ++trial) {
    std::vector<at::Tensor> v;
    double analytic = 0;
    for (size_t i = 0; i < ps.size(); ++i) {
      v.push_back(torch::randn(ps[i].sizes(), gen, ps[i].options()));
      analytic += (grad[i] * v[i]).sum().item<double>();
    }
    auto at = [&](double t) {
      {
        torch::NoGradGuard no_grad;
        for (size_t i = 0; i < ps.size(); ++i) ps[i].add_(v[i], t);
      }
      const double value = objective();
      torch::NoGradGuard no_grad;
      for (size_t i = 0; i < ps.size(); ++i) ps[i].sub_(v[i], t);
      return value;
    };
    const double d1 = (at(h) - at(-h)) / (2 * h), d2 = (at(h / 2) - at(-h / 2)) / h;
    if (std::abs(d1 - d2) > 1e-3 * std::max({std::abs(d1), std::abs(d2), 1e-9})) {
      ++skipped;
      continue;
    }
    ++accepted;
    const double r = std::abs(analytic - d2) / std::max(std::abs(d2), 1e-12);
    worst = std::max(worst, r);
    std::cout << "[" << what << "] direction " << trial << ": autograd " << analytic << ", central difference " << d2
              << ", relative difference " << r << "\n";
  }
  std::cout << "[" << what << "] " << accepted << " directions compared, " << skipped
            << " skipped (a ReLU crossing made the objective jump)\n";
  EXPECT_GE(accepted, 3) << what;
  EXPECT_LE(worst, tol) << what;
}

// F(θ) = L_b(θ − α ∇L_a(θ)): its gradient through the fast weights (with
// create_graph) against finite differences; and the first-order gradient
// (g detached) must differ from it, or the check could not see a missing
// create_graph.
void check_second_order(torch::nn::Module& net, const std::function<at::Tensor(const at::Tensor&)>& forward,
                        const at::Tensor& xa, const at::Tensor& ya, const at::Tensor& xb, const at::Tensor& yb,
                        double h, double tol, const std::string& what) {
  net.to(torch::kDouble);
  net.train(true);
  auto ps = params_of(net);
  const double alpha = 0.3;
  auto objective = [&](bool create_graph, bool detach) {
    auto la = torch::nn::functional::cross_entropy(forward(xa), ya);
    auto g = torch::autograd::grad({la}, ps, {}, create_graph, create_graph, true);
    std::vector<at::Tensor> fast;
    for (size_t i = 0; i < ps.size(); ++i) fast.push_back(ps[i] - alpha * (detach ? g[i].detach() : g[i]));
    FastWeights scope(ps, fast);
    return torch::nn::functional::cross_entropy(forward(xb), yb);
  };
  auto grad = torch::autograd::grad({objective(true, false)}, ps);
  auto first = torch::autograd::grad({objective(false, true)}, ps);
  double gap = 0, norm = 0;
  for (size_t i = 0; i < ps.size(); ++i) {
    gap += (grad[i] - first[i]).pow(2).sum().item<double>();
    norm += grad[i].pow(2).sum().item<double>();
  }
  std::cout << "[" << what << "] |second-order term| / |meta-gradient| = " << std::sqrt(gap / norm) << "\n";
  EXPECT_GE(std::sqrt(gap / norm), 1e-3) << what << ": the second-order term is too small to be checked";
  expect_directional_derivatives(ps, grad, [&] { return objective(false, false).item<double>(); }, h, tol, what);
}

TEST(FastWeights, SecondOrderGradientMatchesFiniteDifferencesSmoothNetwork) {
  torch::manual_seed(5);
  SmoothNet net;
  auto opts = torch::TensorOptions().dtype(torch::kDouble);
  check_second_order(*net, [&](const at::Tensor& x) { return net->forward(x); }, torch::randn({4, 2, 6, 6}, opts),
                     torch::tensor({0, 1, 2, 1}), torch::randn({3, 2, 6, 6}, opts), torch::tensor({2, 0, 1}), 1e-6,
                     1e-6, "smooth network");
}

TEST(FastWeights, SecondOrderGradientMatchesFiniteDifferencesMnistCnn) {
  torch::manual_seed(6);
  auto net = make("mnist_cnn", "mlp", 1, true, 3);
  auto opts = torch::TensorOptions().dtype(torch::kDouble);
  check_second_order(*net, [&](const at::Tensor& x) { return net->forward(x); }, torch::randn({2, 1, 4, 4}, opts),
                     torch::tensor({0, 1}), torch::randn({2, 1, 4, 4}, opts), torch::tensor({2, 0}), 1e-6, 1e-5,
                     "MNIST_CNN");
}

}  // namespace
}  // namespace uda::models
