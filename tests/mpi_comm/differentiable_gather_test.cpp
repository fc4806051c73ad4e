// Run under `mpirun -np 2`: the differentiable all-gather of
// comm/differentiable.h. A penalty computed on every rank from the gathered
// features, plus a per-rank mean, followed by the reducer's average, gives
// the gradient one rank computes on the whole global batch.
#include "comm/communicator.h"
#include "comm/differentiable.h"
#include "comm/global_batch_clock.h"
#include "comm/grad_reducer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <iostream>

using uda::comm::all_gather_rows;
using uda::comm::Communicator;

namespace {

Communicator& comm() {
  static auto c = uda::comm::make_communicator(uda::comm::Backend::Mpi);
  return *c;
}

// A penalty that couples every pair of rows (a Gaussian-kernel energy and
// a covariance term): order-invariant, nonlinear.
torch::Tensor penalty(const torch::Tensor& f) {
  auto n2 = f.pow(2).sum(1, true);
  auto d = (n2 + n2.t() - 2 * f.matmul(f.t())).clamp_min(0);
  auto c = f - f.mean(0, true);
  return torch::exp(-d).mean() + (c.t().matmul(c) / static_cast<double>(f.size(0) - 1)).pow(2).mean();
}

TEST(DifferentiableGather, RowsInRankOrderAlsoOfUnequalCounts) {
  const int r = comm().rank(), w = comm().size();
  ASSERT_EQ(w, 2);
  // Rank r holds r + 2 rows of value 10 r + row, and labels.
  auto x = torch::arange(r + 2, torch::kFloat).view({-1, 1}).repeat({1, 3}) + 10.0 * r;
  auto y = torch::full({r + 2}, static_cast<int64_t>(r), torch::kLong);
  auto g = all_gather_rows(comm(), x);
  auto gy = all_gather_rows(comm(), y);
  ASSERT_EQ(g.size(0), 5);
  EXPECT_TRUE(torch::equal(g.select(1, 0), torch::tensor({0.f, 1.f, 10.f, 11.f, 12.f})));
  EXPECT_TRUE(torch::equal(gy, torch::tensor({0, 0, 1, 1, 1}, torch::kLong)));
  EXPECT_FALSE(gy.requires_grad());
}

TEST(DifferentiableGather, GradientEqualsOneRankOnTheGlobalBatch) {
  const int r = comm().rank(), w = comm().size();
  // Identical parameters on every rank; the global batch of 8 rows, rank r
  // holding the global slots j * W + r (the loaders' layout).
  torch::manual_seed(5);
  torch::nn::Linear net(4, 3);
  auto x_all = torch::randn({8, 4});
  auto labels = torch::randint(0, 3, {8}, torch::kLong);
  auto mine = torch::arange(r, 8, w, torch::kLong);

  // Reference: one rank, the whole batch.
  auto ref_loss = torch::nn::functional::cross_entropy(net(x_all), labels) + 0.7 * penalty(net(x_all));
  ref_loss.backward();
  std::vector<torch::Tensor> ref;
  for (auto& p : net->parameters()) ref.push_back(p.grad().clone());
  net->zero_grad();

  // W ranks: a per-rank mean (equal counts) plus the penalty of the gathered
  // features, the reducer armed (its buckets are exchanged from autograd
  // hooks while the gather's backward exchanges too).
  std::vector<torch::Tensor> params;
  for (auto& p : net->parameters()) params.push_back(p);
  uda::comm::GradReducer reducer(comm(), params);
  auto f = net(x_all.index_select(0, mine));
  auto fg = all_gather_rows(comm(), f);
  ASSERT_EQ(fg.size(0), 8);
  auto loss = torch::nn::functional::cross_entropy(f, labels.index_select(0, mine)) + 0.7 * penalty(fg);
  reducer.arm();
  loss.backward();
  reducer.finalize();
  double worst = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    const double d = ((params[i].grad() - ref[i]).abs().max() / ref[i].abs().max()).item<double>();
    worst = std::max(worst, d);
    EXPECT_LE(d, 1e-5) << "parameter " << i;
  }
  // The gathered penalty is the global batch's (rows in another order).
  EXPECT_NEAR(penalty(fg).item<double>(), penalty(net(x_all)).item<double>(), 1e-6);
  if (r == 0) std::cout << "[gather] 2 ranks x 4 vs 1 rank x 8: largest relative gradient difference " << worst << "\n";
}

TEST(DifferentiableGather, BackwardSumsEveryRanksGradientOfItsRows) {
  // Each rank's loss is a function of every rank's rows; the local rows
  // receive the sum over ranks (the reduce-scatter of torch.distributed.nn).
  torch::manual_seed(6);
  auto a = torch::randn({2, 3}, torch::requires_grad());
  auto b = torch::randn({2, 3}, torch::requires_grad());
  auto ga = all_gather_rows(comm(), a);
  auto gb = all_gather_rows(comm(), b);
  (ga.sum() + gb.pow(2).sum()).backward();
  // d/da of sum over ranks' copies of the same loss: W * 1.
  EXPECT_TRUE(torch::allclose(a.grad(), torch::full({2, 3}, 2.0)));
  EXPECT_TRUE(torch::allclose(b.grad(), 2 * 2 * b.detach()));
}

// The clock of the global-batch collectives (the trainer's
// global_batch_time) counts a gather's forward and its backward, on every
// rank alike, and time passes in them.
TEST(DifferentiableGather, ClockCountsForwardAndBackward) {
  const auto before = uda::comm::global_batch_clock();
  auto a = torch::randn({3, 2}, torch::requires_grad());
  all_gather_rows(comm(), a).sum().backward();
  all_gather_rows(comm(), torch::zeros({2}, torch::kLong));  // no gradient: one call
  const auto after = uda::comm::global_batch_clock();
  EXPECT_EQ(after.calls - before.calls, 3);
  EXPECT_GT(after.seconds, before.seconds);
}

}  // namespace
