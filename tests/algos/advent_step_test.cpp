// The composition of one ADVENT step (train_UDA.py): after train_step the
// gradients left in each network equal those of the losses that network is
// supposed to receive, recomputed here by hand. With every learning rate 0
// the step leaves the weights unchanged, so the recomputation sees the same
// networks. A discriminator that received the generator's adversarial
// gradient (requires_grad not turned off), or a segmentation net reached by
// the discriminator losses (no detach), fails the comparison.
#include "algos/seg/advent_losses.h"
#include "algos/algorithm.h"
#include "algos/seg/seg_loss.h"
#include "comm/mpi_communicator.h"
#include "comm/mpi_runtime.h"
#include "core/config.h"
#include "core/error.h"
#include "models/ops.h"
#include "models/segmentor.h"
#include "worker/train_context.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace {

using nlohmann::json;

json tiny_config(const std::string& algo, const json& model, double lambda) {
  return {{"algorithm",
           {{"name", algo},
            {"lambda_adv_main", lambda},
            {"lambda_adv_aux", 0.5 * lambda},
            {"lambda_ent_main", lambda},
            {"lambda_ent_aux", 0.5 * lambda},
            {"discriminator_ndf", 8},
            {"discriminator_optimizer", {{"lr", 0.0}}}}},
          {"model", model},
          {"optimizer", {{"type", "sgd"}, {"lr", 0.0}, {"momentum", 0.9}, {"weight_decay", 5e-4}}},
          {"train", {{"max_iters", 10}, {"seed", 1}}}};
}

json mit_model() {
  return {{"backbone", {{"type", "mit_b0"}, {"drop_path_rate", 0.0}}},
          {"head", {{"type", "daformer"}, {"channels", 16}, {"embed_dims", 16}, {"dropout_ratio", 0.0}}},
          {"num_classes", 4}};  // the DAFormer head requires align_corners false
}

json deeplab_model() {
  return {{"backbone", {{"type", "resnet50"}}}, {"head", {{"type", "deeplabv2"}}}, {"num_classes", 4},
          {"align_corners", true}};
}

uda::algos::Batch make_batch(int64_t size) {
  auto g = at::make_generator<at::CPUGeneratorImpl>(11);
  uda::algos::Batch b;
  b.source.images = torch::randn({2, 3, size, size}, g, torch::TensorOptions());
  b.source.labels = torch::randint(4, {2, size, size}, g, torch::TensorOptions().dtype(torch::kLong));
  b.source.labels.index_put_({0, 0}, 255);  // some ignored pixels
  b.target.images = torch::randn({2, 3, size, size}, g, torch::TensorOptions()) * 2 + 0.5;
  b.source.indices = torch::arange(2, torch::kLong);
  b.target.indices = torch::arange(2, torch::kLong);
  return b;
}

std::shared_ptr<torch::nn::Module> module(const uda::worker::TrainContext& ctx, const std::string& name) {
  for (const auto& kv : ctx.modules())
    if (kv.first == name) return kv.second;
  return nullptr;
}

// Trainable parameters (the frozen BatchNorm affines of DeepLabV2 excluded).
std::vector<at::Tensor> trainable(torch::nn::Module& m) {
  std::vector<at::Tensor> out;
  for (auto& p : m.parameters())
    if (p.requires_grad()) out.push_back(p);
  return out;
}

void expect_grads(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& expected,
                  const std::string& what) {
  ASSERT_EQ(params.size(), expected.size());
  double worst = 0.0, scale = 0.0;
  for (size_t i = 0; i < params.size(); ++i) {
    ASSERT_TRUE(params[i].grad().defined()) << what << ": parameter " << i << " got no gradient";
    worst = std::max(worst, (params[i].grad() - expected[i]).abs().max().item<double>());
    scale = std::max(scale, expected[i].abs().max().item<double>());
  }
  EXPECT_GT(scale, 0.0) << what;
  EXPECT_LE(worst, 1e-4 * scale + 1e-9) << what << ": gradients differ from the by-hand losses";
}

at::Tensor d_forward(torch::nn::Module& d, const at::Tensor& x) {
  return d.as<torch::nn::SequentialImpl>()->forward(x);
}

struct Setup {
  uda::config::Config cfg;
  std::unique_ptr<uda::comm::MpiCommunicator> comm;
  std::unique_ptr<uda::worker::TrainContext> ctx;
  std::unique_ptr<uda::algos::Algorithm> algo;
};

std::unique_ptr<Setup> make_setup(const json& doc) {
  uda::comm::ensure_mpi();
  auto s = std::make_unique<Setup>();
  s->cfg = uda::config::from_json(doc, "test");
  s->comm = std::make_unique<uda::comm::MpiCommunicator>(MPI_COMM_SELF);
  s->ctx = std::make_unique<uda::worker::TrainContext>(s->cfg, *s->comm, torch::kCPU);
  torch::manual_seed(3);
  s->algo = uda::algos::make_algorithm(doc["algorithm"]["name"].get<std::string>());
  s->algo->setup(*s->ctx);
  return s;
}

void check_advent(const json& model, bool multi_level, int64_t size) {
  const bool align = model.value("align_corners", false);
  const double lambda = 0.7;  // large, so that a leak would show
  auto s = make_setup(tiny_config("advent", model, lambda));
  auto batch = make_batch(size);
  auto scalars = s->algo->train_step(batch, *s->ctx);
  auto net = std::dynamic_pointer_cast<uda::models::SegmentorImpl>(module(*s->ctx, "model"));
  auto d_main = module(*s->ctx, "d_main");
  auto d_aux = module(*s->ctx, "d_aux");
  ASSERT_TRUE(net && d_main);
  ASSERT_EQ(static_cast<bool>(d_aux), multi_level);
  for (auto* d : {d_main.get(), d_aux.get()}) {
    if (!d) continue;
    for (auto& p : d->parameters()) EXPECT_TRUE(p.requires_grad()) << "discriminators must be trainable again";
  }

  // By hand, from train_UDA.py train_advent.
  auto up = [&](const at::Tensor& x) { return uda::algos::resize_logits(x, size, size, align); };
  auto p2e = [](const at::Tensor& logits) { return uda::models::prob_2_entropy(torch::softmax(logits, 1)); };
  net->train();
  auto out_s = net->forward(batch.source.images);
  auto out_t = net->forward(batch.target.images);
  auto seg = uda::algos::seg_cross_entropy(up(out_s.logits), batch.source.labels, align);
  auto adv = lambda * uda::algos::advent_bce_loss(d_forward(*d_main, p2e(up(out_t.logits))), 0.0);
  auto d_main_loss = uda::algos::advent_bce_loss(d_forward(*d_main, p2e(up(out_s.logits).detach())), 0.0) / 2 +
                     uda::algos::advent_bce_loss(d_forward(*d_main, p2e(up(out_t.logits).detach())), 1.0) / 2;
  at::Tensor d_aux_loss;
  if (multi_level) {
    seg = seg + 0.1 * uda::algos::seg_cross_entropy(up(out_s.aux), batch.source.labels, align);
    adv = adv + 0.5 * lambda * uda::algos::advent_bce_loss(d_forward(*d_aux, p2e(up(out_t.aux))), 0.0);
    d_aux_loss = uda::algos::advent_bce_loss(d_forward(*d_aux, p2e(up(out_s.aux).detach())), 0.0) / 2 +
                 uda::algos::advent_bce_loss(d_forward(*d_aux, p2e(up(out_t.aux).detach())), 1.0) / 2;
  }
  auto net_params = trainable(*net);
  expect_grads(net_params, torch::autograd::grad({seg + adv}, net_params, {}, true), "segmentation net");
  auto dm = trainable(*d_main);
  expect_grads(dm, torch::autograd::grad({d_main_loss}, dm, {}, true), "d_main");
  if (multi_level) {
    auto da = trainable(*d_aux);
    expect_grads(da, torch::autograd::grad({d_aux_loss}, da, {}, true), "d_aux");
  }
  // the reported discriminator loss is the whole (source + target) loss
  for (const auto& kv : scalars) {
    if (kv.first == "loss_d") {
      EXPECT_NEAR(kv.second, d_main_loss.item<double>(), 1e-5);
    }
  }
}

TEST(AdventStep, GradientsOfEachNetworkAreExactlyItsLosses) { check_advent(mit_model(), false, 32); }

TEST(AdventStep, MultiLevelDeepLabV2UsesBothDiscriminators) { check_advent(deeplab_model(), true, 41); }

TEST(AdventStep, MinEntGradientIsSegmentationPlusWeightedEntropy) {
  const double lambda = 0.7;
  auto s = make_setup(tiny_config("minent", mit_model(), lambda));
  EXPECT_EQ(module(*s->ctx, "d_main"), nullptr);
  auto batch = make_batch(32);
  auto scalars = s->algo->train_step(batch, *s->ctx);
  auto net = std::dynamic_pointer_cast<uda::models::SegmentorImpl>(module(*s->ctx, "model"));
  net->train();
  auto up = [&](const at::Tensor& x) { return uda::algos::resize_logits(x, 32, 32, false); };
  auto seg = uda::algos::seg_cross_entropy(up(net->forward(batch.source.images).logits), batch.source.labels, false);
  auto ent = uda::algos::advent_entropy_loss(torch::softmax(up(net->forward(batch.target.images).logits), 1));
  auto params = trainable(*net);
  expect_grads(params, torch::autograd::grad({seg + lambda * ent}, params, {}, true), "segmentation net");
  bool logged = false;
  for (const auto& kv : scalars)
    if (kv.first == "loss_ent") {
      logged = true;
      EXPECT_NEAR(kv.second, ent.item<double>(), 1e-5);
    }
  EXPECT_TRUE(logged);
}

}  // namespace

// source_only's loss_mean: with a quarter of the source pixels ignored, the
// mmseg mean over all pixels is 3/4 of the mean over the valid ones (same
// initial weights, dropout off, so the same logits in both runs).
TEST(SourceOnlyStep, LossMeanOverAllOrValidPixels) {
  auto batch = make_batch(64);
  batch.source.labels.index_put_({torch::indexing::Slice(), torch::indexing::Slice(0, 16)}, 255);
  const double valid = (batch.source.labels != 255).to(torch::kDouble).mean().item<double>();
  ASSERT_NEAR(valid, 0.75, 1e-12);
  auto loss_of = [&](const std::string& mean) {
    auto doc = tiny_config("source_only", mit_model(), 0.0);
    doc["algorithm"] = {{"name", "source_only"}, {"loss_mean", mean}};
    auto s = make_setup(doc);
    const auto scalars = s->algo->train_step(batch, *s->ctx);
    return scalars.at(0).second;
  };
  const double all = loss_of("all_pixels"), valid_only = loss_of("valid_pixels");
  EXPECT_GT(all, 0.0);
  EXPECT_NEAR(all, valid * valid_only, 1e-5 * valid_only);
  auto doc = tiny_config("source_only", mit_model(), 0.0);
  doc["algorithm"] = {{"name", "source_only"}, {"loss_mean", "median"}};
  EXPECT_THROW(make_setup(doc), uda::UserError);
}
