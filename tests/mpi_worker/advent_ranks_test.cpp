// Run under `mpirun -np 2`. A short ADVENT / MinEnt run on a tiny MiT model
// over two ranks: the losses decrease, the discriminators train, and every
// network (segmentation net and discriminators) stays identical across ranks.
#include "comm/communicator.h"
#include "comm/mpi_runtime.h"
#include "core/config.h"
#include "tests/support/test_support.h"
#include "worker/batch_source.h"
#include "worker/trainer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

namespace {

using nlohmann::json;

// Labels are a fixed function of the image (learnable by a per-pixel
// classifier); target images come from a shifted, rescaled distribution.
class ShiftedPairSource : public uda::worker::BatchSource {
 public:
  ShiftedPairSource(int rank, int world, int batch) : rank_(rank), world_(world), batch_(batch) {}
  uda::algos::Batch next(int64_t iter) override {
    uda::algos::Batch b;
    const int64_t slot = (iter * world_ + rank_) * batch_;
    auto gs = at::make_generator<at::CPUGeneratorImpl>(100 + slot);
    auto gt = at::make_generator<at::CPUGeneratorImpl>(900000 + slot);
    auto smooth = [](const at::Tensor& x) {
      return torch::nn::functional::avg_pool2d(x, torch::nn::functional::AvgPool2dFuncOptions(5).stride(1).padding(2));
    };
    b.source.images = smooth(torch::randn({batch_, 3, 32, 32}, gs, torch::TensorOptions())) * 3;
    b.source.labels = ((b.source.images.select(1, 0) > 0).to(torch::kLong) * 2 +
                       (b.source.images.select(1, 1) > 0).to(torch::kLong));
    b.target.images = smooth(torch::randn({batch_, 3, 32, 32}, gt, torch::TensorOptions())) * 4.5 + 0.3;
    b.source.indices = torch::arange(slot, slot + batch_, torch::kLong);
    b.target.indices = b.source.indices.clone();
    return b;
  }
  json state() const override { return json::object(); }
  void restore(const json&) override {}

 private:
  int rank_, world_, batch_;
};

json config(const std::string& algo) {
  return {{"algorithm", {{"name", algo}, {"lambda_adv_main", 0.01}, {"lambda_ent_main", 0.01},
                         {"discriminator_ndf", 8}}},
          {"model",
           {{"backbone", {{"type", "mit_b0"}, {"drop_path_rate", 0.0}}},
            {"head", {{"type", "daformer"}, {"channels", 16}, {"embed_dims", 16}, {"dropout_ratio", 0.0}}},
            {"num_classes", 4}}},
          {"train", {{"max_iters", 40}, {"seed", 5}, {"log_interval", 10}, {"eval_interval", 0},
                     {"checkpoint_interval", 0}}},
          {"data", {{"batch_per_rank", 2}}},
          {"optimizer", {{"type", "adamw"}, {"lr", 2e-3}, {"weight_decay", 0.01}}},
          {"schedule", {{"policy", "poly"}, {"power", 1.0}}}};
}

std::vector<json> read_metrics(const std::string& dir) {
  std::vector<json> out;
  std::ifstream in(std::filesystem::path(dir) / "metrics.jsonl");
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

void run_and_check(const std::string& algo, const std::vector<std::string>& decreasing,
                   const std::vector<std::string>& modules) {
  auto world = uda::comm::make_communicator(uda::comm::Backend::Mpi);
  ASSERT_EQ(world->size(), 2);
  uda::test::TempDir d;
  // every rank writes into its own directory; rank 0's metrics are global averages
  const std::string dir = d.path() + "/rank" + std::to_string(world->rank());
  std::filesystem::create_directories(dir);
  auto cfg = uda::config::from_json(config(algo), "test");
  uda::worker::Trainer t(cfg, *world, torch::kCPU, dir);
  t.setup(std::make_unique<ShiftedPairSource>(world->rank(), world->size(), 2), nullptr, nullptr);
  auto r = t.run();
  EXPECT_EQ(r.iterations_done, 40);

  // identical replicas of every network
  std::vector<std::string> seen;
  for (const auto& [name, m] : t.context().modules()) {
    seen.push_back(name);
    for (const auto& p : m->named_parameters()) {
      auto all = world->all_gather(p.value().detach().contiguous());
      EXPECT_TRUE(torch::equal(all[0], all[1])) << name << "." << p.key() << " differs across ranks";
    }
  }
  for (const auto& name : modules)
    EXPECT_NE(std::find(seen.begin(), seen.end(), name), seen.end()) << "module " << name << " not tracked";

  if (world->rank() == 0) {
    auto m = read_metrics(dir);
    ASSERT_GE(m.size(), 2u);
    for (const auto& key : decreasing) {
      ASSERT_TRUE(m.front().contains(key)) << key;
      EXPECT_LT(m.back()[key].get<double>(), m.front()[key].get<double>()) << key << " did not decrease";
    }
  }
}

TEST(AdventRanks, AdvEntLossesDecreaseAndReplicasAgree) {
  // The segmentation loss falls; the discriminator learns to tell the
  // domains apart (its loss falls below log 2 = 0.693 at chance).
  run_and_check("advent", {"loss_seg", "loss_d"}, {"model", "d_main"});
}

TEST(AdventRanks, MinEntLossesDecreaseAndReplicasAgree) {
  run_and_check("minent", {"loss_seg", "loss_ent"}, {"model"});
}

}  // namespace
