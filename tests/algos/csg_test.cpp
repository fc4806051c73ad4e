// CSG's contrastive branch (algos/contrastive/) against the official code
// (NVlabs/CSG 175ecdf model/csg_builder.py), run unmodified by
// scripts/make_csg_golden.py on fixed stage maps (tests/fixtures/csg/csg.json):
// chunk_feature, A-Pool, and three steps of the whole branch — the EMA of the
// key heads, A-Pool of query and key (the key with the query network's
// attention of the key view), the projection heads, the InfoNCE loss per
// stage, its gradients w.r.t. the query maps and heads, and the queues and
// pointers after the enqueue, including the official wrap-around (K = 10,
// 4 keys a step: the third step wraps) and 2 x 2 patch keys (segmentation).
// float32 as the official code. Tolerances: 1e-5 relative for pooling,
// EMA heads and queues; the losses 1e-5 x max(|loss|, 1) absolute and the
// gradients 1e-4 relative, because a near-zero InfoNCE (6e-4 in the first
// step, where the key heads equal the query heads) and its gradient
// (softmax - one-hot, a difference of numbers near 1) carry the float32
// rounding of the logits' summation order: 1.1e-7 relative everywhere with
// Debian's libtorch 1.13, up to 2.5e-4 relative (1.5e-7 absolute) on that
// loss with torch 2.11's kernels.
#include "algos/contrastive/csg_model.h"
#include "algos/contrastive/csg_ops.h"
#include "comm/mpi_communicator.h"
#include "comm/mpi_runtime.h"
#include "core/config.h"
#include "worker/train_context.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <fstream>
#include <iostream>

namespace C = uda::algos::contrastive;
using nlohmann::json;

namespace {

constexpr double kTol = 1e-5;

const json& fixture() {
  static const json j = [] {
    std::ifstream in(std::string(UDA_SOURCE_DIR) + "/tests/fixtures/csg/csg.json");
    EXPECT_TRUE(in.good());
    return json::parse(in);
  }();
  return j;
}

void flatten(const json& j, std::vector<double>& values, std::vector<int64_t>& shape, size_t depth) {
  if (!j.is_array()) {
    values.push_back(j.get<double>());
    return;
  }
  if (shape.size() <= depth) shape.push_back(static_cast<int64_t>(j.size()));
  for (const auto& v : j) flatten(v, values, shape, depth + 1);
}
torch::Tensor tensor(const json& j) {
  std::vector<double> values;
  std::vector<int64_t> shape;
  flatten(j, values, shape, 0);
  return torch::tensor(values, torch::kDouble).view(shape).to(torch::kFloat);
}

double worst = 0;
void expect_close(const torch::Tensor& a, const torch::Tensor& b, const std::string& what, double tol = kTol,
                  double min_scale = 1e-30) {
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  const double scale = std::max(b.abs().max().item<double>(), min_scale);
  const double d = (a.detach().to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>() / std::max(scale, 1e-30);
  worst = std::max(worst, d);
  EXPECT_LE(d, tol) << what;
}

TEST(CsgGolden, ChunkFeatureAndAttentionPool) {
  const auto& j = fixture();
  const auto x = tensor(j["chunk"]["x"]);
  const auto chunked = C::chunk_feature(x, j["chunk"]["chunks"].get<int64_t>());
  expect_close(chunked, tensor(j["chunk"]["out"]), "chunk_feature");
  EXPECT_TRUE(torch::equal(C::chunk_feature(x, 1), x));
  const auto pooled = C::attention_pool(tensor(j["apool"]["features"]), tensor(j["apool"]["attn_from"]));
  expect_close(pooled, tensor(j["apool"]["pooled"]), "adaptive_pool");
  // A uniform attention source is the plain average pool.
  const auto f = tensor(j["apool"]["features"]);
  expect_close(C::attention_pool(f, torch::ones_like(f)), C::average_pool(f), "A-Pool of a constant map");
}

struct Context {
  uda::config::Config cfg;
  std::unique_ptr<uda::comm::MpiCommunicator> comm;
  std::unique_ptr<uda::worker::TrainContext> ctx;
};

std::unique_ptr<Context> make_context() {
  uda::comm::ensure_mpi();
  auto c = std::make_unique<Context>();
  c->cfg = uda::config::from_json(
      {{"algorithm", {{"name", "csg"}}},
       {"model", {{"backbone", {{"type", "resnet18"}}}, {"head", {{"type", "linear"}}}, {"num_classes", 4}}},
       {"optimizer", {{"type", "sgd"}, {"lr", 0.1}}},
       {"schedule", {{"policy", "constant"}}},
       {"train", {{"max_iters", 10}, {"seed", 7}}}},
      "test");
  c->comm = std::make_unique<uda::comm::MpiCommunicator>(MPI_COMM_SELF);
  c->ctx = std::make_unique<uda::worker::TrainContext>(c->cfg, *c->comm, torch::kCPU);
  return c;
}

void set_params(torch::nn::Module& m, const json& values) {
  torch::NoGradGuard no_grad;
  for (auto& p : m.named_parameters(true)) {
    ASSERT_TRUE(values.contains(p.key())) << p.key();
    p.value().copy_(tensor(values[p.key()]));
  }
}

void run_case(const std::string& name) {
  const auto& j = fixture()[name];
  C::CsgOptions o;
  o.stages = j["stages"].get<std::vector<int64_t>>();
  o.dim = j["dim"].get<int64_t>();
  o.queue_size = j["K"].get<int64_t>();
  o.momentum = j["m"].get<double>();
  o.temperature = j["T"].get<double>();
  o.chunks = j["chunks"].get<int64_t>();
  auto c = make_context();
  C::ContrastiveBranch branch(o, {6, 8}, *c->ctx);  // the stand-in encoder's layer3 / layer4 widths
  std::shared_ptr<torch::nn::Module> key_heads;
  for (const auto& kv : c->ctx->modules())
    if (kv.first == "csg_key_heads") key_heads = kv.second;
  ASSERT_TRUE(key_heads);
  {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < o.stages.size(); ++i)
      const_cast<at::Tensor&>(branch.queues()[i]).copy_(tensor(j["queues0"][std::to_string(o.stages[i])]));
  }
  // The official key heads start as copies of the query heads: so do these.
  set_params(*key_heads, j["steps"][0]["heads_q"]);
  int step = 0;
  for (const auto& rec : j["steps"]) {
    const std::string what = name + " step " + std::to_string(step++);
    set_params(*branch.query_heads(), rec["heads_q"]);
    branch.query_heads()->zero_grad();
    branch.momentum_update();
    for (const auto& p : key_heads->named_parameters(true))
      expect_close(p.value(), tensor(rec["heads_k_after_ema"][p.key()]), what + " EMA key head " + p.key());
    std::vector<at::Tensor> q(4), qk(4), k(4);
    for (const auto s : o.stages) {
      const auto key = std::to_string(s);
      q[s - 1] = tensor(rec["maps"]["q0"][key]).requires_grad_(true);
      qk[s - 1] = tensor(rec["maps"]["q1"][key]);
      k[s - 1] = tensor(rec["maps"]["k1"][key]);
    }
    const int64_t n = q[o.stages[0] - 1].size(0);
    const auto out = branch.losses(q, qk, k, torch::zeros({n}, torch::kLong), torch::arange(n, torch::kLong));
    for (size_t i = 0; i < o.stages.size(); ++i)
      expect_close(out.per_stage[i].view({1}), torch::tensor({rec["losses"][i].get<double>()}, torch::kFloat),
                   what + " InfoNCE stage " + std::to_string(o.stages[i]), kTol, 1.0);
    out.total.backward();
    for (const auto s : o.stages)
      expect_close(q[s - 1].grad(), tensor(rec["grad_maps_q"][std::to_string(s)]),
                   what + " gradient of the query map of stage " + std::to_string(s), 1e-4);
    for (const auto& p : branch.query_heads()->named_parameters(true))
      expect_close(p.value().grad(), tensor(rec["grad_heads_q"][p.key()]), what + " gradient of " + p.key(), 1e-4);
    branch.enqueue_step_keys(*c->ctx);
    for (size_t i = 0; i < o.stages.size(); ++i) {
      const auto s = std::to_string(o.stages[i]);
      expect_close(branch.queues()[i], tensor(rec["queues"][s]), what + " queue " + s);
    }
    for (const auto& t : c->ctx->tensors())
      for (const auto s : o.stages)
        if (t.name == "csg.queue_ptr" + std::to_string(s))
          EXPECT_EQ(t.tensor.item<int64_t>(), rec["ptrs"][std::to_string(s)].get<int64_t>()) << what;
  }
  std::cout << "[golden] csg " << name << ": largest relative difference to the official code " << worst << "\n";
}

TEST(CsgGolden, BranchStepsWithWrappingQueue) { run_case("classification"); }
TEST(CsgGolden, BranchStepsWithPatchKeys) { run_case("patches"); }

TEST(CsgQueue, OfficialWrapRewritesTheFirstKeysFifoTheRest) {
  for (const auto wrap : {C::QueueWrap::Official, C::QueueWrap::Fifo}) {
    auto queue = torch::zeros({1, 5});
    auto ptr = torch::tensor({3}, torch::kLong);
    C::enqueue(queue, ptr, torch::tensor({1.f, 2.f, 3.f, 4.f}).view({4, 1}), wrap);
    const auto expected = wrap == C::QueueWrap::Official ? torch::tensor({1.f, 2.f, 0.f, 1.f, 2.f})
                                                         : torch::tensor({3.f, 4.f, 0.f, 1.f, 2.f});
    EXPECT_TRUE(torch::equal(queue.view({5}), expected)) << queue;
    EXPECT_EQ(ptr.item<int64_t>(), 2);
  }
}

}  // namespace
