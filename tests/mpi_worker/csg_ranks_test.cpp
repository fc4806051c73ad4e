// Run under `mpirun -np 2`. CSG keeps the world-size promise: 2 ranks with
// b samples per training domain follow the trajectory of 1 rank with 2b —
// gradients, parameters, the EMA key heads — AND build the same queues:
// each step's keys of every rank are gathered and put in the global
// batch's order (domain, global slot) before the enqueue, so the queue of
// every rank equals the single rank's, bit for bit across the ranks and to
// float noise against the single run. The InfoNCE loss is a mean over the
// rank's query rows; with equal row counts the ranks' average is the
// global batch's mean (checked on the logged per-stage losses). The queue
// (K = 20, 12 keys a step) wraps in the second step; views (RandAugment)
// and feature dropout are on.
#include "algos/algorithm.h"
#include "comm/communicator.h"
#include "comm/mpi_communicator.h"
#include "comm/mpi_runtime.h"
#include "core/config.h"
#include "worker/train_context.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <iostream>

namespace {

using nlohmann::json;

struct Run {
  uda::config::Config cfg;
  std::unique_ptr<uda::worker::TrainContext> ctx;
  std::unique_ptr<uda::algos::Algorithm> algo;
  std::vector<at::Tensor> trained() const {
    std::vector<at::Tensor> out;
    for (const auto& kv : ctx->modules())
      if (kv.first == "model" || kv.first == "csg_heads")
        for (auto& p : kv.second->parameters()) out.push_back(p);
    return out;
  }
  std::vector<at::Tensor> state(const std::string& prefix) const {
    std::vector<at::Tensor> out;
    for (const auto& t : ctx->state_tensors())
      if (t.name.rfind(prefix, 0) == 0) out.push_back(t.tensor.detach().clone());
    return out;
  }
};

std::unique_ptr<Run> make_run(const json& doc, uda::comm::Communicator& comm) {
  auto r = std::make_unique<Run>();
  r->cfg = uda::config::from_json(doc, "test");
  r->ctx = std::make_unique<uda::worker::TrainContext>(r->cfg, comm, torch::kCPU);
  torch::manual_seed(3);  // the same initial networks in every run
  r->algo = uda::algos::make_algorithm("csg");
  r->algo->setup(*r->ctx);
  return r;
}

const json kConfig = {
    {"algorithm", {{"name", "csg"}, {"csg_queue_size", 20}, {"csg_weight", 1.0}}},
    {"model",
     {{"backbone", {{"type", "resnet18"}}}, {"head", {{"type", "linear"}}}, {"num_classes", 4}, {"dropout", 0.2}}},
    {"optimizer", {{"type", "sgd"}, {"lr", 0.05}, {"momentum", 0.9}, {"weight_decay", 5e-4}}},
    {"schedule", {{"policy", "constant"}}},
    {"train", {{"max_iters", 10}, {"seed", 7}}}};

uda::algos::DomainBatch domain(int64_t d, int64_t n, int64_t step) {
  auto g = at::make_generator<at::CPUGeneratorImpl>(200 + 10 * step + d);
  uda::algos::DomainBatch b;
  // uint8 pixels normalised with the default data.source.mean/std, so that
  // the views' RandAugment recovers them exactly.
  auto pixels = torch::randint(256, {n, 3, 32, 32}, g, torch::TensorOptions()).to(torch::kFloat);
  auto mean = torch::tensor({123.675f, 116.28f, 103.53f}).view({1, 3, 1, 1});
  auto stdv = torch::tensor({58.395f, 57.12f, 57.375f}).view({1, 3, 1, 1});
  b.images = (pixels - mean) / stdv;
  b.labels = torch::randint(4, {n}, g, torch::TensorOptions().dtype(torch::kLong));
  b.indices = torch::arange(step * 1000 + 100 * d, step * 1000 + 100 * d + n, torch::kLong);
  return b;
}

uda::algos::Batch part(const uda::algos::Batch& full, int rank, int world) {
  // rank r holds slots j * W + r of every domain (the loader's interleaving)
  uda::algos::Batch out;
  for (const auto& d : full.domains) {
    auto rows = torch::arange(rank, d.images.size(0), world, torch::kLong);
    uda::algos::DomainBatch b;
    b.images = d.images.index_select(0, rows);
    b.labels = d.labels.index_select(0, rows);
    b.indices = d.indices.index_select(0, rows);
    out.domains.push_back(b);
  }
  return out;
}

double worst_relative(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, ((a[i].to(torch::kDouble) - b[i].to(torch::kDouble)).abs().max() /
                             b[i].to(torch::kDouble).abs().max().clamp_min(1e-20))
                                .item<double>());
  return worst;
}

double scalar(const uda::algos::Scalars& s, const std::string& name) {
  for (const auto& kv : s)
    if (kv.first == name) return kv.second;
  ADD_FAILURE() << "no scalar " << name;
  return 0;
}

TEST(CsgRanks, TwoRanksTimesBIsOneRankTimesTwoBTrajectoryAndQueues) {
  auto world = uda::comm::make_communicator(uda::comm::Backend::Mpi);
  ASSERT_EQ(world->size(), 2);
  uda::comm::MpiCommunicator self(MPI_COMM_SELF);
  auto ranks = make_run(kConfig, *world);
  auto single = make_run(kConfig, self);
  double worst_loss = 0, worst_grad = 0;
  for (int64_t it = 0; it < 3; ++it) {
    uda::algos::Batch full;
    for (int64_t d = 0; d < 3; ++d) full.domains.push_back(domain(d, 4, it));
    for (auto* r : {ranks.get(), single.get()}) r->ctx->set_iter(it);
    const auto sr = ranks->algo->train_step(part(full, world->rank(), 2), *ranks->ctx);
    const auto ss = single->algo->train_step(full, *single->ctx);
    for (const char* name : {"loss", "csg_layer3", "csg_layer4"}) {
      auto avg = torch::tensor({scalar(sr, name)}, torch::kDouble);
      world->all_reduce(avg, uda::comm::ReduceOp::Average);
      const double ref = scalar(ss, name);
      const double d = std::abs(avg.item<double>() - ref) / std::max(std::abs(ref), 1e-12);
      worst_loss = std::max(worst_loss, d);
      EXPECT_LE(d, 1e-5) << name << " at step " << it << ": mean over ranks " << avg.item<double>() << " vs " << ref;
    }
    std::vector<at::Tensor> ga, gb;
    for (auto& p : ranks->trained()) ga.push_back(p.grad().detach().clone());
    for (auto& p : single->trained()) gb.push_back(p.grad().detach().clone());
    worst_grad = std::max(worst_grad, worst_relative(ga, gb));
  }
  const std::vector<at::Tensor> pa = [&] {
    std::vector<at::Tensor> v;
    for (auto& p : ranks->trained()) v.push_back(p.detach().clone());
    return v;
  }();
  const std::vector<at::Tensor> pb = [&] {
    std::vector<at::Tensor> v;
    for (auto& p : single->trained()) v.push_back(p.detach().clone());
    return v;
  }();
  const double worst_param = worst_relative(pa, pb);
  const auto qa = ranks->state("csg."), qb = single->state("csg.");
  ASSERT_EQ(qa.size(), 4u);  // queue3, queue_ptr3, queue4, queue_ptr4
  const double worst_queue = worst_relative(qa, qb);
  const double worst_key_heads = worst_relative(ranks->state("csg_key_heads."), single->state("csg_key_heads."));
  if (world->rank() == 0)
    std::cout << "[world-size] csg: 2 ranks x 2 vs 1 rank x 4 per domain, 3 steps: losses " << worst_loss
              << ", gradients " << worst_grad << ", parameters " << worst_param << ", EMA key heads "
              << worst_key_heads << ", queues " << worst_queue << "\n";
  EXPECT_LE(worst_grad, 1e-4);
  EXPECT_LE(worst_param, 1e-5);
  EXPECT_LE(worst_key_heads, 1e-5);
  EXPECT_LE(worst_queue, 1e-5);
  // The pointers exactly, and every rank holds the same queues, bit for bit.
  for (size_t i = 1; i < qa.size(); i += 2) EXPECT_EQ(qa[i].item<int64_t>(), qb[i].item<int64_t>());
  EXPECT_EQ(qa[1].item<int64_t>(), (3 * 12) % 20);
  for (const auto& q : qa) {
    auto all = world->all_gather(q.contiguous());
    EXPECT_TRUE(torch::equal(all[0], all[1])) << "a queue differs across ranks";
  }
  for (auto& p : pa) {
    auto all = world->all_gather(p.contiguous());
    EXPECT_TRUE(torch::equal(all[0], all[1])) << "a parameter differs across ranks";
  }
}

}  // namespace
