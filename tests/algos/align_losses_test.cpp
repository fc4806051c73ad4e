// The alignment losses (algos/align/losses.h) against DomainBed's own code
// (tests/fixtures/align/*.json, written by scripts/make_align_golden.py from
// DomainBed's AbstractMMD.update and AbstractDANN.update), and the
// TLlib/WMMD estimates against brute-force loops. Tolerance 1e-5, relative
// to the largest magnitude of each compared tensor.
#include "algos/align/losses.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>

namespace {

using nlohmann::json;
namespace A = uda::algos::align;
namespace F = torch::nn::functional;

constexpr double kTol = 1e-5;

json read_fixture(const std::string& name) {
  const std::string path = std::string(UDA_SOURCE_DIR) + "/tests/fixtures/align/" + name;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  return json::parse(in);
}

// Nested JSON lists -> a tensor.
void flatten(const json& j, std::vector<double>& values, std::vector<int64_t>& shape, size_t depth) {
  if (!j.is_array()) {
    values.push_back(j.get<double>());
    return;
  }
  if (shape.size() <= depth) shape.push_back(static_cast<int64_t>(j.size()));
  for (const auto& v : j) flatten(v, values, shape, depth + 1);
}
torch::Tensor tensor(const json& j, torch::ScalarType dtype = torch::kFloat) {
  std::vector<double> values;
  std::vector<int64_t> shape;
  flatten(j, values, shape, 0);
  return torch::tensor(values, torch::kDouble).view(shape).to(dtype);
}

// Largest |a - b| relative to max |b| (1 when b is all zero but a is not).
double rel_diff(const torch::Tensor& a, const torch::Tensor& b) {
  auto ad = a.detach().to(torch::kDouble), bd = b.detach().to(torch::kDouble);
  const double scale = bd.abs().max().item<double>();
  const double diff = (ad - bd).abs().max().item<double>();
  return scale > 0 ? diff / scale : diff;
}
double rel_diff(double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-30); }

double worst = 0;  // reported at the end of each test
void expect_close(const torch::Tensor& a, const torch::Tensor& b, const std::string& what) {
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  const double d = rel_diff(a, b);
  worst = std::max(worst, d);
  if (std::getenv("UDA_GOLDEN_VERBOSE")) std::cout << what << " " << d << "\n";
  EXPECT_LE(d, kTol) << what;
}
void expect_close(double a, double b, const std::string& what) {
  const double d = rel_diff(a, b);
  worst = std::max(worst, d);
  EXPECT_LE(d, kTol) << what << ": " << a << " vs DomainBed " << b;
}

void load_state(torch::nn::Module& m, const json& state) {
  torch::NoGradGuard no_grad;
  for (auto& p : m.named_parameters(true)) {
    ASSERT_TRUE(state.contains(p.key())) << p.key();
    p.value().copy_(tensor(state[p.key()], p.value().scalar_type()));
  }
}

// Every gradient DomainBed recorded has a parameter of the same name here.
void check_grads(torch::nn::Module& m, const json& grads, const std::string& what) {
  const auto params = m.named_parameters(true);
  ASSERT_FALSE(grads.empty()) << what;
  for (const auto& [name, g] : grads.items()) {
    const auto* p = params.find(name);
    ASSERT_NE(p, nullptr) << what << ": no parameter " << name;
    ASSERT_TRUE(p->grad().defined()) << what << " " << name;
    expect_close(p->grad(), tensor(g, torch::kDouble), what + " d/d" + name);
  }
}

// ---------------------------------------------------------------- AbstractMMD

void check_mmd_fixture(const std::string& file, A::PairKernel kernel) {
  worst = 0;
  const auto doc = read_fixture(file);
  for (const auto& c : doc["cases"]) {
    // DomainBed's update run in this dtype (scripts/make_align_golden.py).
    const auto dtype = c.value("dtype", std::string("float32")) == "float64" ? torch::kDouble : torch::kFloat;
    std::vector<torch::Tensor> xs, ys, ds;
    for (size_t d = 0; d < c["domains"].size(); ++d) {
      xs.push_back(tensor(c["domains"][d]["x"], dtype).requires_grad_(true));
      ys.push_back(tensor(c["domains"][d]["y"], torch::kLong));
      ds.push_back(torch::full({xs.back().size(0)}, static_cast<int64_t>(d), torch::kLong));
    }
    const auto n = static_cast<int64_t>(xs.size());
    torch::nn::Linear classifier(xs[0].size(1), c["num_classes"].get<int64_t>());
    classifier->to(dtype);
    load_state(*classifier, c["classifier"]);
    for (const auto& p : c["pairs"]) {
      auto a = xs[p["i"].get<size_t>()].detach(), b = xs[p["j"].get<size_t>()].detach();
      const double v = (kernel == A::PairKernel::Gaussian ? A::domainbed_mmd(a, b) : A::domainbed_coral(a, b))
                           .item<double>();
      expect_close(v, p["value"].get<double>(), file + " pair " + p.dump());
    }
    auto objective = torch::zeros({}, dtype);
    for (int64_t d = 0; d < n; ++d) objective = objective + F::cross_entropy(classifier(xs[d]), ys[d]);
    objective = objective / static_cast<double>(n);
    auto all = torch::cat(xs), dom = torch::cat(ds);
    auto penalty = A::pairwise_domain_penalty(all, dom, n, kernel);
    // The penalty of the rows in any order (the gathered global batch
    // interleaves the ranks' rows): the same up to rounding (in double).
    {
      auto all64 = all.detach().to(torch::kDouble);
      auto perm = torch::randperm(all.size(0), torch::TensorOptions().dtype(torch::kLong));
      const double a = A::pairwise_domain_penalty(all64, dom, n, kernel).item<double>();
      const double b =
          A::pairwise_domain_penalty(all64.index_select(0, perm), dom.index_select(0, perm), n, kernel).item<double>();
      EXPECT_NEAR(a, b, 1e-12 * std::abs(a)) << file << " penalty of permuted rows";
    }
    (objective + c["mmd_gamma"].get<double>() * penalty).backward();
    expect_close(objective.item<double>(), c["loss"].get<double>(), file + " objective");
    expect_close(penalty.item<double>(), c["penalty"].get<double>(), file + " penalty");
    for (int64_t d = 0; d < n; ++d)
      expect_close(xs[d].grad(), tensor(c["grad_features"][d], torch::kDouble),
                   file + " d/dfeatures of domain " + std::to_string(d));
    check_grads(*classifier, c["grad_classifier"], file);
  }
  std::cout << "[golden] " << file << ": largest relative difference to DomainBed " << worst << "\n";
}

TEST(AlignGolden, MmdMatchesDomainBedUpdate) { check_mmd_fixture("mmd.json", A::PairKernel::Gaussian); }
TEST(AlignGolden, CoralMatchesDomainBedUpdate) { check_mmd_fixture("coral.json", A::PairKernel::MeanCov); }

// ---------------------------------------------------------------- AbstractDANN

void check_dann_fixture(const std::string& file) {
  worst = 0;
  const auto doc = read_fixture(file);
  ASSERT_EQ(doc["cases"].size(), 2u);
  for (const auto& c : doc["cases"]) {
    const bool conditional = c["conditional"].get<bool>(), balanced = c["class_balance"].get<bool>();
    const double gp = c["grad_penalty"].get<double>(), lambda = c["lambda"].get<double>();
    const std::string what = file + " grad_penalty " + std::to_string(gp);
    std::vector<torch::Tensor> xs, ys, ds;
    for (size_t d = 0; d < c["domains"].size(); ++d) {
      xs.push_back(tensor(c["domains"][d]["x"]));
      ys.push_back(tensor(c["domains"][d]["y"], torch::kLong));
      ds.push_back(torch::full({xs.back().size(0)}, static_cast<int64_t>(d), torch::kLong));
    }
    const int64_t dim = xs[0].size(1), classes = c["num_classes"].get<int64_t>();
    torch::nn::Linear classifier(dim, classes);
    A::DomainBedMlp disc(dim, c["num_domains"].get<int64_t>(), c["mlp_width"].get<int64_t>(),
                         c["mlp_depth"].get<int64_t>(), 0.0);
    torch::nn::Embedding emb(classes, dim);
    load_state(*classifier, c["weights"]["classifier"]);
    load_state(*disc, c["weights"]["discriminator"]);
    load_state(*emb, c["weights"]["class_embeddings"]);
    auto y = torch::cat(ys), dl = torch::cat(ds);

    auto disc_loss_of = [&](const torch::Tensor& z) {
      auto input = conditional ? z + emb(y) : z;
      auto out = disc(input);
      auto loss = balanced ? A::cdann_balanced_loss(out, dl, y) : A::dann_discriminator_loss(out, dl);
      return loss + gp * A::dann_gradient_penalty(out, dl, input);
    };
    // Generator step (update_count 1).
    auto z = torch::cat(xs).requires_grad_(true);
    auto gen_loss = F::cross_entropy(classifier(z), y) - lambda * disc_loss_of(z);
    gen_loss.backward();
    expect_close(gen_loss.item<double>(), c["gen_loss"].get<double>(), what + " gen_loss");
    int64_t offset = 0;
    for (size_t d = 0; d < xs.size(); ++d) {
      expect_close(z.grad().narrow(0, offset, xs[d].size(0)), tensor(c["gen_grad_features"][d], torch::kDouble),
                   what + " d gen_loss / d features of domain " + std::to_string(d));
      offset += xs[d].size(0);
    }
    check_grads(*classifier, c["gen_grad_classifier"], what + " gen_loss");
    // Discriminator step (update_count 2).
    disc->zero_grad();
    emb->zero_grad();
    auto disc_loss = disc_loss_of(torch::cat(xs).requires_grad_(true));
    disc_loss.backward();
    expect_close(disc_loss.item<double>(), c["disc_loss"].get<double>(), what + " disc_loss");
    check_grads(*disc, c["disc_grad_discriminator"], what + " disc_loss");
    if (conditional) {
      ASSERT_FALSE(c["disc_grad_class_embeddings"].empty());
      check_grads(*emb, c["disc_grad_class_embeddings"], what + " disc_loss");
    }
  }
  std::cout << "[golden] " << file << ": largest relative difference to DomainBed " << worst << "\n";
}

TEST(AlignGolden, DannMatchesDomainBedUpdate) { check_dann_fixture("dann.json"); }
TEST(AlignGolden, CdannMatchesDomainBedUpdate) { check_dann_fixture("cdann.json"); }

TEST(AlignLosses, CdannBalanceCountsClassesUpToTheLargestLabel) {
  // Labels {0, 0, 2}: y_counts = [2, 0, 1] (length 3): weights 1/6, 1/6, 1/3.
  auto out = torch::tensor({{1.0, 0.0}, {0.0, 1.0}, {0.5, 0.5}});
  auto dl = torch::tensor({0, 1, 1}, torch::kLong);
  auto y = torch::tensor({0, 0, 2}, torch::kLong);
  auto ce = F::cross_entropy(out, dl, F::CrossEntropyFuncOptions().reduction(torch::kNone));
  const double expected = (ce[0] / 6 + ce[1] / 6 + ce[2] / 3).item<double>();
  EXPECT_NEAR(A::cdann_balanced_loss(out, dl, y).item<double>(), expected, 1e-7);
}

TEST(AlignLosses, MlpDropoutComesBeforeReluAndOnlyInTraining) {
  torch::manual_seed(0);
  A::DomainBedMlp mlp(4, 2, 8, 4, 0.5);
  auto names = std::vector<std::string>{};
  for (const auto& p : mlp->named_parameters()) names.push_back(p.key());
  const std::vector<std::string> expected{"input.weight",     "input.bias",  "hiddens.0.weight", "hiddens.0.bias",
                                          "hiddens.1.weight", "hiddens.1.bias", "output.weight", "output.bias"};
  EXPECT_EQ(names, expected);
  auto x = torch::randn({5, 4});
  mlp->eval();
  auto a = mlp(x), b = mlp(x);
  EXPECT_TRUE(torch::equal(a, b));
  mlp->train();
  EXPECT_FALSE(torch::allclose(mlp(x), a));
}

// ---------------------------------------------------------------- DAN, WMMD

// sigma_k^2 = alpha_k * mean over all pairs of squared distances (TLlib).
double kernel_sum(const torch::Tensor& a, const torch::Tensor& b, double mean_d, const std::vector<double>& alphas) {
  const double d = (a - b).pow(2).sum().item<double>();
  double k = 0;
  for (double al : alphas) k += std::exp(-d / (2 * al * mean_d));
  return k;
}

double brute_mk_mmd(const torch::Tensor& zs, const torch::Tensor& zt, const std::vector<double>& alphas,
                    const std::vector<double>& w) {
  auto x = torch::cat({zs, zt}).to(torch::kDouble);
  const int64_t n = x.size(0), ns = zs.size(0), nt = zt.size(0);
  double mean_d = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) mean_d += (x[i] - x[j]).pow(2).sum().item<double>();
  mean_d /= static_cast<double>(n * n);
  double ss = 0, tt = 0, st = 0;
  for (int64_t i = 0; i < ns; ++i)
    for (int64_t j = 0; j < ns; ++j)
      if (i != j) ss += w[i] * w[j] * kernel_sum(x[i], x[j], mean_d, alphas);
  for (int64_t i = 0; i < nt; ++i)
    for (int64_t j = 0; j < nt; ++j)
      if (i != j) tt += kernel_sum(x[ns + i], x[ns + j], mean_d, alphas);
  for (int64_t i = 0; i < ns; ++i)
    for (int64_t j = 0; j < nt; ++j) st += w[i] * kernel_sum(x[i], x[ns + j], mean_d, alphas);
  return ss / static_cast<double>(ns * (ns - 1)) + tt / static_cast<double>(nt * (nt - 1)) -
         2 * st / static_cast<double>(ns * nt);
}

TEST(AlignLosses, MkMmdIsTheQuadraticEstimateWithTllibBandwidths) {
  torch::manual_seed(3);
  auto zs = torch::randn({6, 5}, torch::kDouble), zt = torch::randn({6, 5}, torch::kDouble) + 0.5;
  const auto alphas = A::dan_alphas();
  EXPECT_EQ(alphas, (std::vector<double>{0.125, 0.25, 0.5, 1, 2}));
  const std::vector<double> ones(6, 1.0);
  EXPECT_NEAR(A::mk_mmd(zs, zt, alphas).item<double>(), brute_mk_mmd(zs, zt, alphas, ones), 1e-10);
  // TLlib's constant 2 / (n - 1) for equal sizes.
  EXPECT_NEAR(A::mk_mmd(zs, zt, alphas, {}, true).item<double>(), brute_mk_mmd(zs, zt, alphas, ones) + 2.0 / 5,
              1e-10);
  // Weighted (WMMD): source row weights alpha_{y_i}.
  const std::vector<double> w{0.5, 1.5, 1.0, 2.0, 0.25, 0.75};
  EXPECT_NEAR(A::mk_mmd(zs, zt, alphas, torch::tensor(w, torch::kDouble)).item<double>(),
              brute_mk_mmd(zs, zt, alphas, w), 1e-10);
  // A function of the sets of rows: the order does not matter.
  auto ps = torch::randperm(6, torch::kLong), pt = torch::randperm(6, torch::kLong);
  EXPECT_NEAR(A::mk_mmd(zs.index_select(0, ps), zt.index_select(0, pt), alphas).item<double>(),
              A::mk_mmd(zs, zt, alphas).item<double>(), 1e-12);
  // Unequal sizes.
  EXPECT_NEAR(A::mk_mmd(zs.narrow(0, 0, 4), zt, alphas).item<double>(),
              brute_mk_mmd(zs.narrow(0, 0, 4), zt, alphas, std::vector<double>(4, 1.0)), 1e-10);
}

TEST(AlignLosses, ClassConditionalMmdAveragesClassesWithTwoRowsOnEachSide) {
  torch::manual_seed(4);
  auto zs = torch::randn({7, 3}, torch::kDouble), zt = torch::randn({6, 3}, torch::kDouble);
  auto ys = torch::tensor({0, 0, 1, 1, 1, 2, 2}, torch::kLong);
  auto yt = torch::tensor({0, 0, 0, 1, 2, 2}, torch::kLong);  // class 1: one target row
  int64_t used = -1;
  const auto alphas = A::dan_alphas();
  auto v = A::class_conditional_mmd(zs, ys, zt, yt, 4, alphas, &used);
  EXPECT_EQ(used, 2);
  auto pick = [](const torch::Tensor& z, const std::vector<int64_t>& rows) {
    return z.index_select(0, torch::tensor(rows, torch::kLong));
  };
  const double expected = 0.5 * (brute_mk_mmd(pick(zs, {0, 1}), pick(zt, {0, 1, 2}), alphas, {1, 1}) +
                                 brute_mk_mmd(pick(zs, {5, 6}), pick(zt, {4, 5}), alphas, {1, 1}));
  EXPECT_NEAR(v.item<double>(), expected, 1e-10);
  auto none = A::class_conditional_mmd(zs, ys, zt, torch::tensor({3, 3, 3, 3, 3, 3}, torch::kLong), 4, alphas, &used);
  EXPECT_EQ(used, 0);
  EXPECT_EQ(none.item<double>(), 0.0);
}

TEST(AlignLosses, GradientReversalAndItsSchedules) {
  auto x = torch::randn({3, 2}, torch::requires_grad());
  auto y = A::gradient_reverse(x, 0.3);
  EXPECT_TRUE(torch::equal(y, x));
  y.sum().backward();
  EXPECT_TRUE(torch::allclose(x.grad(), torch::full({3, 2}, -0.3)));
  // Ganin & Lempitsky: 2 / (1 + exp(-10 p)) - 1.
  EXPECT_EQ(A::grl_coefficient(0, 10, 1000), 0.0);
  EXPECT_NEAR(A::grl_coefficient(500, 10, 1000), 2 / (1 + std::exp(-5.0)) - 1, 1e-15);
  EXPECT_NEAR(A::grl_coefficient(1000, 10, 1000), 0.9999092042625951, 1e-15);
  // TLlib WarmStartGradientReverseLayer(alpha 1, lo 0, hi 1, max_iters 1000).
  EXPECT_NEAR(A::grl_coefficient(1000, 1, 1000), 2 / (1 + std::exp(-1.0)) - 1, 1e-15);
}

}  // namespace
