// Run under `mpirun -np 2`. The meta-learning plugins keep the world-size
// promise: 2 ranks with b samples per domain compute the meta-gradient that
// 1 rank computes on the union (2b per domain) — the inner step's gradient
// is the global batch's on every rank (comm/differentiable_reduce.h), and
// the second-order term flows back through that average — and the replicas
// stay identical. Per-sample dropout is on.
#include "algos/algorithm.h"
#include "comm/communicator.h"
#include "comm/differentiable_reduce.h"
#include "comm/mpi_communicator.h"
#include "comm/mpi_runtime.h"
#include "core/config.h"
#include "worker/train_context.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace {

using nlohmann::json;

struct Run {
  uda::config::Config cfg;
  std::unique_ptr<uda::worker::TrainContext> ctx;
  std::unique_ptr<uda::algos::Algorithm> algo;
  std::vector<at::Tensor> params() const {
    std::vector<at::Tensor> out;
    for (const auto& kv : ctx->modules())
      for (auto& p : kv.second->parameters()) out.push_back(p);
    return out;
  }
};

std::unique_ptr<Run> make_run(const json& doc, uda::comm::Communicator& comm) {
  auto r = std::make_unique<Run>();
  r->cfg = uda::config::from_json(doc, "test");
  r->ctx = std::make_unique<uda::worker::TrainContext>(r->cfg, comm, torch::kCPU);
  torch::manual_seed(3);  // the same initial networks in every run
  r->algo = uda::algos::make_algorithm(doc["algorithm"]["name"].get<std::string>());
  r->algo->setup(*r->ctx);
  return r;
}

json base_config(const json& algorithm, const json& optimizer) {
  return {{"algorithm", algorithm},
          {"model", {{"backbone", {{"type", "mnist_cnn"}}}, {"head", {{"type", "linear"}}}, {"num_classes", 4},
                     {"in_channels", 1}, {"dropout", 0.2}}},
          {"optimizer", optimizer},
          {"schedule", {{"policy", "constant"}}},
          {"train", {{"max_iters", 10}, {"seed", 7}}}};
}

uda::algos::DomainBatch domain(int64_t d, int64_t n, bool labelled) {
  auto g = at::make_generator<at::CPUGeneratorImpl>(200 + d);
  uda::algos::DomainBatch b;
  b.images = torch::randn({n, 1, 12, 12}, g, torch::TensorOptions()) * (1.0 + 0.3 * d) + 0.2 * d;
  if (labelled) b.labels = torch::randint(4, {n}, g, torch::TensorOptions().dtype(torch::kLong));
  b.indices = torch::arange(1000 * d, 1000 * d + n, torch::kLong);  // global sample slots
  return b;
}

uda::algos::DomainBatch rows(const uda::algos::DomainBatch& b, int64_t from, int64_t n) {
  uda::algos::DomainBatch out;
  out.images = b.images.narrow(0, from, n);
  if (b.labels.defined()) out.labels = b.labels.narrow(0, from, n);
  out.indices = b.indices.narrow(0, from, n);
  return out;
}

uda::algos::Batch part(const uda::algos::Batch& full, int64_t from, int64_t n) {
  uda::algos::Batch out;
  for (const auto& d : full.domains) out.domains.push_back(rows(d, from, n));
  if (full.source.defined()) out.source = rows(full.source, from, n);
  if (full.target.defined()) out.target = rows(full.target, from, n);
  return out;
}

// The same samples in reverse row order (their slots move with them).
uda::algos::DomainBatch flip_rows(const uda::algos::DomainBatch& b) {
  uda::algos::DomainBatch out;
  out.images = b.images.flip(0);
  if (b.labels.defined()) out.labels = b.labels.flip(0);
  out.indices = b.indices.flip(0);
  return out;
}

uda::algos::Batch flipped(const uda::algos::Batch& full) {
  uda::algos::Batch out;
  for (const auto& d : full.domains) out.domains.push_back(flip_rows(d));
  if (full.source.defined()) out.source = flip_rows(full.source);
  if (full.target.defined()) out.target = flip_rows(full.target);
  return out;
}

double worst_relative(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, ((a[i] - b[i]).abs().max() / b[i].abs().max().clamp_min(1e-20)).item<double>());
  return worst;
}

// Three steps on 2 ranks x b and on 1 rank x 2b (every rank runs the latter
// alone). The float noise floor is what reordering the rows of the single
// run does (another summation order): the meta-learners' inner steps turn
// it into visible differences where a ReLU unit sits within float noise of
// zero (the inner gradient jumps there) and, for DomainBed's MLDG, through
// the sign-like first step of its inner Adam. The first step's gradients
// are compared tightly (the parameters are identical then); the later ones
// and the final parameters against 10x the floor.
void check_world_size(const json& doc, const uda::algos::Batch& full, const std::string& what) {
  auto world = uda::comm::make_communicator(uda::comm::Backend::Mpi);
  ASSERT_EQ(world->size(), 2);
  uda::comm::MpiCommunicator self(MPI_COMM_SELF);
  auto ranks = make_run(doc, *world);
  auto single = make_run(doc, self);
  auto reordered = make_run(doc, self);
  const int64_t b = (full.domains.empty() ? full.source.images.size(0) : full.domains[0].images.size(0)) / 2;
  const auto local = part(full, world->rank() * b, b);
  const auto reversed = flipped(full);
  double first_step = 0, first_floor = 0, worst_grad = 0, worst_floor = 0;
  auto grads = [](const Run& r) {
    std::vector<at::Tensor> out;
    for (auto& p : r.params()) out.push_back(p.grad().detach().clone());
    return out;
  };
  for (int64_t it = 0; it < 3; ++it) {
    for (auto* r : {ranks.get(), single.get(), reordered.get()}) r->ctx->set_iter(it);
    ranks->algo->train_step(local, *ranks->ctx);
    single->algo->train_step(full, *single->ctx);
    reordered->algo->train_step(reversed, *reordered->ctx);
    const auto reference = grads(*single);
    const double diff = worst_relative(grads(*ranks), reference), floor = worst_relative(grads(*reordered), reference);
    if (it == 0) first_step = diff, first_floor = floor;
    worst_grad = std::max(worst_grad, diff);
    worst_floor = std::max(worst_floor, floor);
  }
  std::vector<at::Tensor> pa, pb, pc;
  for (auto& p : ranks->params()) pa.push_back(p.detach().clone());
  for (auto& p : single->params()) pb.push_back(p.detach().clone());
  for (auto& p : reordered->params()) pc.push_back(p.detach().clone());
  const double worst_param = worst_relative(pa, pb), param_floor = worst_relative(pc, pb);
  if (world->rank() == 0)
    std::cout << "[world-size] " << what << ": 2 ranks x " << b << " vs 1 rank x " << 2 * b
              << ": first step's gradients " << first_step << " (floor " << first_floor << "); 3 steps: gradients "
              << worst_grad << " (floor " << worst_floor << "), parameters " << worst_param << " (floor "
              << param_floor << ")\n";
  EXPECT_LE(first_step, std::max(10 * first_floor, 1e-5)) << what;
  EXPECT_LE(worst_grad, std::max(10 * worst_floor, 1e-4)) << what;
  EXPECT_LE(worst_param, std::max(10 * param_floor, 1e-4)) << what;
  // identical replicas
  for (auto& p : ranks->params()) {
    auto all = world->all_gather(p.detach().contiguous());
    EXPECT_TRUE(torch::equal(all[0], all[1])) << what << ": a parameter differs across ranks";
  }
}

uda::algos::Batch dg_batch(int64_t per_domain) {
  uda::algos::Batch full;
  for (int64_t d = 0; d < 3; ++d) full.domains.push_back(domain(d, per_domain, true));
  return full;
}

uda::algos::Batch uda_batch(int64_t n) {
  uda::algos::Batch full;
  full.source = domain(0, n, true);
  full.target = domain(3, n, false);
  return full;
}

const json kAdam = {{"type", "adam"}, {"lr", 1e-3}, {"weight_decay", 1e-4}};
const json kSgd = {{"type", "sgd"}, {"lr", 0.01}, {"momentum", 0.9}, {"nesterov", true}, {"weight_decay", 1e-3},
                   {"paramwise", {{"fc", {{"lr_mult", 10.0}}}, {"discriminator", {{"lr_mult", 10.0}}}}}};

TEST(MetaRanks, MldgSecondOrderMetaGradient) {
  check_world_size(base_config({{"name", "mldg"}, {"mldg_order", "second"}, {"mldg_inner_lr", 0.05},
                                {"mldg_beta", 0.8}, {"n_meta_test", 1}},
                               kAdam),
                   dg_batch(6), "mldg second order");
}

TEST(MetaRanks, MldgFirstOrderDomainBed) {
  check_world_size(base_config({{"name", "mldg"}, {"mldg_beta", 0.8}, {"n_meta_test", 1}}, kAdam), dg_batch(6),
                   "mldg first order");
}

TEST(MetaRanks, MetaAlignBothOrders) {
  for (const char* order : {"first", "second"})
    check_world_size(base_config({{"name", "metaalign"}, {"metaalign_order", order}, {"metaalign_meta_lr", 5.0},
                                  {"metaalign_disc_hidden", 32}, {"metaalign_grl_max_iters", 10}},
                                 kSgd),
                     uda_batch(6), std::string("metaalign ") + order + " order");
}

// The differentiable average on its own: forward is the mean over ranks,
// backward the mean of the incoming gradients (the same on every rank), and
// a second derivative through it is the global one.
TEST(MetaRanks, DifferentiableAllReduceForwardBackwardAndSecondOrder) {
  auto world = uda::comm::make_communicator(uda::comm::Backend::Mpi);
  const double r = world->rank();
  auto opts = torch::TensorOptions().dtype(torch::kDouble);
  auto x = torch::tensor({1.0 + r, 2.0 * (r + 1)}, opts).requires_grad_(true);
  auto w = torch::tensor({3.0}, opts).requires_grad_(true);
  auto y = uda::comm::all_reduce_mean(*world, {x * w, w * w});
  // forward: mean over ranks of [1 + r, 2(r + 1)] * 3 and of 9
  EXPECT_TRUE(torch::allclose(y[0].detach(), torch::tensor({1.5 * 3, 3.0 * 3}, opts)));
  EXPECT_TRUE(torch::allclose(y[1].detach(), torch::tensor({9.0}, opts)));
  // local objective O_r = (r + 1) * sum(y0) + y1; d(Σ_s O_s)/dx_r = mean_s (s + 1) * w = 1.5 * 3
  auto o = (r + 1) * y[0].sum() + y[1].sum();
  auto gx = torch::autograd::grad({o}, {x}, {}, true, true)[0];
  EXPECT_TRUE(torch::allclose(gx.detach(), torch::full({2}, 4.5, opts))) << gx;
  // second order: d/dw of Σ_i gx_i = 2 * mean_s (s + 1) = 3 on every rank
  auto gw = torch::autograd::grad({gx.sum()}, {w})[0];
  EXPECT_NEAR(gw.item<double>(), 3.0, 1e-12);
}

}  // namespace
