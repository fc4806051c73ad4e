// Run under `mpirun -np 2`: communicator collectives and the bucketed
// gradient reducer against a reference computed from all ranks' local grads.
#include "comm/communicator.h"
#include "comm/grad_reducer.h"
#include "comm/mpi_runtime.h"
#include "comm/replicas.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

using uda::comm::Communicator;
using uda::comm::GradReducer;
using uda::comm::ReduceOp;

namespace {

Communicator& comm() {
  static auto c = uda::comm::make_communicator(uda::comm::Backend::Mpi);
  return *c;
}

struct Net : torch::nn::Module {
  Net() {
    a = register_module("a", torch::nn::Linear(8, 16));
    b = register_module("b", torch::nn::Linear(16, 16));
    c = register_module("c", torch::nn::Linear(16, 4));
    side = register_module("side", torch::nn::Linear(8, 4));  // used only when asked
    unused = register_module("unused", torch::nn::Linear(4, 4));
  }
  torch::Tensor forward(const torch::Tensor& x, bool use_side) {
    auto y = c(torch::relu(b(torch::relu(a(x)))));
    if (use_side) y = y + side(x);
    return y;
  }
  torch::nn::Linear a{nullptr}, b{nullptr}, c{nullptr}, side{nullptr}, unused{nullptr};
};

std::vector<torch::Tensor> params_of(Net& n) {
  std::vector<torch::Tensor> p;
  for (auto& t : n.parameters()) p.push_back(t);
  return p;
}

// Identical initial weights on every rank.
std::shared_ptr<Net> make_net() {
  torch::manual_seed(1);
  auto n = std::make_shared<Net>();
  uda::comm::NamedTensors nt;
  for (auto& kv : n->named_parameters()) nt.emplace_back(kv.key(), kv.value());
  uda::comm::broadcast_from_rank0(comm(), nt);
  return n;
}

torch::Tensor rank_input() {
  torch::manual_seed(100 + comm().rank());
  return torch::randn({5, 8});
}

// Reference average of local gradients (undefined grads count as zero,
// and stay undefined when no rank has one).
std::vector<torch::Tensor> reference_average(const std::vector<torch::Tensor>& local) {
  std::vector<torch::Tensor> out;
  for (const auto& g : local) {
    auto has = torch::tensor({g.defined() ? 1.0 : 0.0});
    comm().all_reduce(has, ReduceOp::Sum);
    if (has.item<double>() == 0) {
      out.emplace_back();
      continue;
    }
    auto all = comm().all_gather(g.defined() ? g : torch::zeros({0}));
    out.push_back(all.sum(0) / comm().size());
  }
  return out;
}

}  // namespace

TEST(Communicator, AllReduceAllGatherBroadcast) {
  ASSERT_EQ(comm().size(), 2);
  const int r = comm().rank();
  for (auto dtype : {torch::kFloat, torch::kDouble, torch::kHalf, torch::kBFloat16}) {
    auto t = torch::full({7}, 1.5 + r, torch::TensorOptions().dtype(dtype));
    comm().all_reduce(t, ReduceOp::Average);
    EXPECT_TRUE(t.eq(2.0).all().item<bool>()) << dtype;
  }
  auto i = torch::full({3}, 10 * (r + 1), torch::kLong);
  comm().all_reduce(i, ReduceOp::Sum);
  EXPECT_EQ(i[0].item<int64_t>(), 30);
  auto g = comm().all_gather(torch::full({2, 2}, static_cast<float>(r)));
  ASSERT_EQ(g.sizes(), (std::vector<int64_t>{2, 2, 2}));
  EXPECT_EQ(g[1][0][0].item<float>(), 1.0f);
  auto b = torch::full({4}, static_cast<float>(r + 5));
  comm().broadcast(b, 1);
  EXPECT_EQ(b[0].item<float>(), 6.0f);
}

TEST(Reducer, AveragesLikeReferenceWithSeveralBuckets) {
  auto net = make_net();
  auto params = params_of(*net);
  uda::comm::ReducerOptions o;
  o.bucket_bytes = 400;  // forces several buckets
  o.first_bucket_bytes = 100;
  GradReducer reducer(comm(), params, o);
  EXPECT_GT(reducer.num_buckets(), 3u);
  // first bucket bounded by first_bucket_bytes unless it holds one tensor
  auto layout = reducer.bucket_layout();
  size_t first_bytes = 0;
  for (auto p : layout[0]) first_bytes += params[p].numel() * 4;
  EXPECT_TRUE(first_bytes <= 100 || layout[0].size() == 1);

  auto x = rank_input();
  net->zero_grad();
  net->forward(x, false).pow(2).mean().backward();
  std::vector<torch::Tensor> local;
  for (auto& p : params) local.push_back(p.grad().defined() ? p.grad().clone() : torch::Tensor());
  auto expected = reference_average(local);

  net->zero_grad();
  reducer.arm();
  net->forward(x, false).pow(2).mean().backward();
  reducer.finalize();
  EXPECT_GT(reducer.buckets_launched_early(), 0u) << "no bucket overlapped with backward";
  for (size_t i = 0; i < params.size(); ++i) {
    if (!expected[i].defined()) {
      EXPECT_FALSE(params[i].grad().defined()) << "param " << i << " unused everywhere must keep no grad";
      continue;
    }
    ASSERT_TRUE(params[i].grad().defined()) << i;
    EXPECT_TRUE(torch::equal(params[i].grad(), expected[i])) << "param " << i;
  }
  EXPECT_EQ(uda::comm::find_replica_mismatch(comm(), {{"grad_a", net->a->weight.grad()}}), "");
}

TEST(Reducer, ParameterUsedOnOneRankIsAveragedWithZeros) {
  auto net = make_net();
  auto params = params_of(*net);
  GradReducer reducer(comm(), params);
  auto x = rank_input();
  net->zero_grad();
  reducer.arm();
  net->forward(x, comm().rank() == 0).sum().backward();
  auto side_local = comm().rank() == 0 ? net->side->weight.grad().clone() : torch::Tensor();
  reducer.finalize();
  ASSERT_TRUE(net->side->weight.grad().defined());
  // rank 0's gradient, broadcast, halved
  torch::Tensor r0 = comm().rank() == 0 ? side_local : torch::empty_like(net->side->weight);
  comm().broadcast(r0, 0);
  EXPECT_TRUE(torch::allclose(net->side->weight.grad(), r0 / 2, 0, 0));
  EXPECT_FALSE(net->unused->weight.grad().defined());
}

TEST(Reducer, OnlyTheArmedBackwardExchangesAndAccumulationIsKept) {
  auto net = make_net();
  auto params = params_of(*net);
  GradReducer reducer(comm(), params);
  auto x = rank_input();
  // Reference: local accumulated gradient of two passes, then averaged.
  net->zero_grad();
  net->forward(x, false).sum().backward();
  net->forward(x * 2, false).sum().backward();
  std::vector<torch::Tensor> local;
  for (auto& p : params) local.push_back(p.grad().defined() ? p.grad().clone() : torch::Tensor());
  auto expected = reference_average(local);

  net->zero_grad();
  net->forward(x, false).sum().backward();  // not armed: local only
  auto after_first = net->a->weight.grad().clone();
  auto other = comm().all_gather(after_first);
  EXPECT_FALSE(torch::equal(other[0], other[1])) << "an unarmed backward must not exchange";
  reducer.arm();
  net->forward(x * 2, false).sum().backward();
  reducer.finalize();
  for (size_t i = 0; i < params.size(); ++i) {
    if (!expected[i].defined()) continue;
    EXPECT_TRUE(torch::allclose(params[i].grad(), expected[i], 1e-6, 1e-7)) << i;
  }
}

TEST(Reducer, MixedDtypesAndReorderAfterFirstStep) {
  torch::manual_seed(3);
  auto w32 = torch::randn({6}, torch::requires_grad());
  auto w64 = torch::randn({6}, torch::TensorOptions().dtype(torch::kDouble).requires_grad(true));
  auto w32b = torch::randn({6}, torch::requires_grad());
  {
    torch::NoGradGuard ng;
    comm().broadcast(w32, 0);
    comm().broadcast(w64, 0);
    comm().broadcast(w32b, 0);
  }
  GradReducer reducer(comm(), {w32, w64, w32b});
  EXPECT_EQ(reducer.num_buckets(), 2u);  // one per dtype
  auto before = reducer.bucket_layout();
  for (int step = 0; step < 2; ++step) {
    w32.mutable_grad() = torch::Tensor();
    w64.mutable_grad() = torch::Tensor();
    w32b.mutable_grad() = torch::Tensor();
    const double s = 1.0 + comm().rank();
    reducer.arm();
    // w32 is used first in the graph, so its gradient arrives last.
    auto loss = (w32 * s).sum() + (w64 * s).sum().to(torch::kFloat) * 2 + (w32b * s * 3).sum();
    loss.backward();
    reducer.finalize();
    EXPECT_TRUE(torch::allclose(w32.grad(), torch::full({6}, 1.5f)));
    EXPECT_TRUE(torch::allclose(w64.grad(), torch::full({6}, 3.0, torch::kDouble)));
    EXPECT_TRUE(torch::allclose(w32b.grad(), torch::full({6}, 4.5f)));
  }
  // Every rank holds the same layout after re-ordering.
  auto layout = reducer.bucket_layout();
  std::vector<int64_t> flat;
  for (auto& b : layout)
    for (auto p : b) flat.push_back(static_cast<int64_t>(p));
  auto all = comm().all_gather(torch::tensor(flat, torch::kLong));
  EXPECT_TRUE(torch::equal(all[0], all[1]));
}

TEST(Replicas, BroadcastThenNoMismatchAndMismatchIsNamed) {
  auto t = torch::full({3}, static_cast<float>(comm().rank()));
  EXPECT_NE(uda::comm::find_replica_mismatch(comm(), {{"t", t}}).find("t differs"), std::string::npos);
  uda::comm::broadcast_from_rank0(comm(), {{"t", t}});
  EXPECT_EQ(uda::comm::find_replica_mismatch(comm(), {{"t", t}}), "");
}
