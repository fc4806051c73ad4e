// Run under `mpirun -np 2`: the alignment losses of algos/align/ over the
// global batch. For MMD, CORAL, DANN/CDANN (discriminator and generator) and
// the class-weighted MMD, 2 ranks x b (rows gathered with
// comm/differentiable.h, per-rank means, the reducer's average) give the
// loss and the gradients of 1 rank x 2b: to 1e-10 in float64 (the algebra:
// measured <= 1e-15) and to 1e-5 in float32 (measured <= 7e-7).
#include "algos/align/losses.h"
#include "comm/communicator.h"
#include "comm/differentiable.h"
#include "comm/grad_reducer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <functional>
#include <iostream>

namespace A = uda::algos::align;
namespace F = torch::nn::functional;
using uda::comm::all_gather_rows;
using uda::comm::Communicator;

namespace {

Communicator& comm() {
  static auto c = uda::comm::make_communicator(uda::comm::Backend::Mpi);
  return *c;
}

// The global batch (identical on every rank): `domains` domains of 2b rows
// each, in domain order; rank r holds, of every domain, the slots j * W + r.
struct Global {
  torch::Tensor x, y, d;
  torch::Tensor mine;  // this rank's rows of x, in domain order
};

Global make_global(int64_t domains, int64_t rows_per_domain, int64_t in, int64_t classes, uint64_t seed,
                   torch::ScalarType dtype) {
  torch::manual_seed(seed);
  Global g;
  g.x = torch::randn({domains * rows_per_domain, in}).to(dtype);
  g.y = torch::randint(0, classes, {domains * rows_per_domain}, torch::kLong);
  g.d = torch::arange(domains, torch::kLong).repeat_interleave(rows_per_domain);
  std::vector<int64_t> mine;
  for (int64_t k = 0; k < domains; ++k)
    for (int64_t j = comm().rank(); j < rows_per_domain; j += comm().size()) mine.push_back(k * rows_per_domain + j);
  g.mine = torch::tensor(mine, torch::kLong);
  return g;
}

// loss(features, labels, domains, gathered): the rank's loss; `gathered`
// maps a local tensor to the global batch (identity for the reference).
using LossFn = std::function<torch::Tensor(torch::Tensor, torch::Tensor, torch::Tensor,
                                           const std::function<torch::Tensor(const torch::Tensor&)>&)>;

// Runs `loss` on 1 rank x the whole batch and on W ranks x their rows
// (reducer average), on the same network; compares loss and gradients.
void check(const std::string& name, torch::nn::Module& net, const std::function<torch::Tensor(torch::Tensor)>& fwd,
           const Global& g, const LossFn& loss) {
  const bool f64 = g.x.scalar_type() == torch::kDouble;
  const double tol = f64 ? 1e-10 : 1e-5;
  const std::string what = name + (f64 ? " (float64)" : " (float32)");
  net.to(g.x.scalar_type());
  std::vector<torch::Tensor> params;
  for (auto& p : net.parameters()) params.push_back(p);
  net.zero_grad();
  auto identity = [](const torch::Tensor& t) { return t; };
  auto ref = loss(fwd(g.x), g.y, g.d, identity);
  ref.backward();
  std::vector<torch::Tensor> ref_grads;
  for (auto& p : params) ref_grads.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
  net.zero_grad();

  uda::comm::GradReducer reducer(comm(), params);
  auto gather = [](const torch::Tensor& t) { return all_gather_rows(comm(), t); };
  auto mine = loss(fwd(g.x.index_select(0, g.mine)), g.y.index_select(0, g.mine), g.d.index_select(0, g.mine), gather);
  reducer.arm();
  mine.backward();
  reducer.finalize();
  // The loss averaged over ranks, as the trainer logs it.
  auto avg = mine.detach().clone().view({1});
  comm().all_reduce(avg, uda::comm::ReduceOp::Average);
  const double loss_diff =
      std::abs(avg.item<double>() - ref.item<double>()) / std::max(1e-12, std::abs(ref.item<double>()));
  EXPECT_LE(loss_diff, tol) << what << " loss " << avg.item<double>() << " vs " << ref.item<double>();
  double worst = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    auto gi = params[i].grad().defined() ? params[i].grad() : torch::zeros_like(params[i]);
    const double scale = ref_grads[i].abs().max().item<double>();
    const double d = (gi - ref_grads[i]).abs().max().item<double>() / std::max(scale, 1e-12);
    worst = std::max(worst, d);
    EXPECT_LE(d, tol) << what << " parameter " << i;
  }
  if (comm().rank() == 0)
    std::cout << "[world-size] " << what << ": 2 ranks x b vs 1 rank x 2b: loss rel. diff " << loss_diff
              << ", largest gradient rel. diff " << worst << "\n";
}

// Per-domain mean cross-entropy, averaged over domains (DomainBed's
// objective), computed on the rank's rows: equal counts on every rank.
torch::Tensor objective(const torch::Tensor& logits, const torch::Tensor& y, const torch::Tensor& d, int64_t n) {
  auto o = torch::zeros({}, logits.options());
  for (int64_t k = 0; k < n; ++k) {
    auto rows = (d == k).nonzero().flatten();
    o = o + F::cross_entropy(logits.index_select(0, rows), y.index_select(0, rows));
  }
  return o / static_cast<double>(n);
}

struct Features : torch::nn::Module {
  Features(int64_t in, int64_t dim, int64_t classes) {
    f = register_module("f", torch::nn::Linear(in, dim));
    c = register_module("c", torch::nn::Linear(dim, classes));
  }
  torch::nn::Linear f{nullptr}, c{nullptr};
};

TEST(AlignRanks, MmdAndCoralPenaltiesOverTheGlobalBatch) {
  ASSERT_EQ(comm().size(), 2);
  const int64_t n = 3;
  for (auto dtype : {torch::kDouble, torch::kFloat}) {
    for (auto kernel : {A::PairKernel::Gaussian, A::PairKernel::MeanCov}) {
      const auto g = make_global(n, 6, 5, 4, 11, dtype);
      Features net(5, 4, 4);
      auto fwd = [&](torch::Tensor x) { return torch::tanh(net.f(x)); };
      check(kernel == A::PairKernel::Gaussian ? "mmd" : "coral", net, fwd, g,
            [&](torch::Tensor f, torch::Tensor y, torch::Tensor d, const auto& gather) {
              return objective(net.c(f), y, d, n) + 0.7 * A::pairwise_domain_penalty(gather(f), gather(d), n, kernel);
            });
    }
  }
}

TEST(AlignRanks, DannAndCdannDiscriminatorAndGeneratorLosses) {
  const int64_t n = 3, classes = 4, dim = 4;
  for (auto dtype : {torch::kDouble, torch::kFloat}) {
    for (bool conditional : {false, true}) {
      const auto g = make_global(n, 6, 5, classes, 12, dtype);
      auto net = std::make_shared<Features>(5, dim, classes);
      A::DomainBedMlp disc(dim, n, 8, 3, 0.0);
      torch::nn::Embedding emb(classes, dim);
      auto all = std::make_shared<torch::nn::Module>();
      all->register_module("net", net);
      all->register_module("disc", disc.ptr());
      all->register_module("emb", emb.ptr());
      auto fwd = [&](torch::Tensor x) { return torch::tanh(net->f(x)); };
      // The generator loss (it reaches every parameter: featurizer,
      // classifier, and through -lambda * disc_loss the discriminator).
      check(conditional ? "cdann" : "dann", *all, fwd, g,
            [&](torch::Tensor z, torch::Tensor y, torch::Tensor d, const auto& gather) {
              auto zg = gather(z), yg = gather(y), dg = gather(d);
              auto input = conditional ? zg + emb(yg) : zg;
              auto out = disc(input);
              auto disc_loss =
                  (conditional ? A::cdann_balanced_loss(out, dg, yg) : A::dann_discriminator_loss(out, dg)) +
                  2.0 * A::dann_gradient_penalty(out, dg, input);
              return F::cross_entropy(net->c(z), y) - 0.8 * disc_loss;
            });
    }
  }
}

TEST(AlignRanks, ClassWeightedMmdAndClassConditionalMmd) {
  const int64_t classes = 3;
  for (auto dtype : {torch::kDouble, torch::kFloat}) {
    // Source = domain 0, target = domain 1 (pseudo-labels: the stored labels).
    const auto g = make_global(2, 8, 5, classes, 13, dtype);
    Features net(5, 4, classes);
    auto fwd = [&](torch::Tensor x) { return torch::tanh(net.f(x)); };
    const auto alpha = torch::tensor({0.5, 1.5, 1.0}, dtype);
    check("cwmmd", net, fwd, g, [&](torch::Tensor z, torch::Tensor y, torch::Tensor d, const auto& gather) {
      auto s = (d == 0).nonzero().flatten(), t = (d == 1).nonzero().flatten();
      auto zs = z.index_select(0, s), zt = z.index_select(0, t), ys = y.index_select(0, s), yt = y.index_select(0, t);
      auto zsg = gather(zs), ztg = gather(zt), ysg = gather(ys), ytg = gather(yt);
      auto wmmd = A::mk_mmd(zsg, ztg, A::dan_alphas(), alpha.index_select(0, ysg));
      auto cmmd = A::class_conditional_mmd(zsg, ysg, ztg, ytg, classes, A::dan_alphas());
      return F::cross_entropy(net.c(zs), ys) + wmmd + 0.5 * cmmd;
    });
    // And DAN's unweighted estimate.
    check("dan", net, fwd, g, [&](torch::Tensor z, torch::Tensor y, torch::Tensor d, const auto& gather) {
      auto s = (d == 0).nonzero().flatten(), t = (d == 1).nonzero().flatten();
      return F::cross_entropy(net.c(z.index_select(0, s)), y.index_select(0, s)) +
             A::mk_mmd(gather(z.index_select(0, s)), gather(z.index_select(0, t)), A::dan_alphas(), {}, true);
    });
  }
}

}  // namespace
