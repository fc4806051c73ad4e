// Run under `mpirun -np 2`. The product promise of docs/SCALING.md: two
// ranks with per-rank batch b follow the same parameter trajectory as one
// rank with batch 2b (for a model without batch statistics).
#include "comm/communicator.h"
#include "comm/mpi_communicator.h"
#include "comm/mpi_runtime.h"
#include "core/config.h"
#include "core/error.h"
#include "data/image_io.h"
#include "tests/support/test_support.h"
#include "tests/worker_support/toy_algorithm.h"
#include "worker/preemption.h"
#include "worker/report_images.h"
#include "worker/train_context.h"
#include "worker/trainer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <csignal>
#include <filesystem>

namespace {

uda::config::Config toy_config(int batch, int iters, const std::string& algo = "test_toy", bool sync_bn = false) {
  return uda::config::from_json({{"algorithm", {{"name", algo}}},
                                 {"runtime", {{"sync_bn", sync_bn}}},
                                 {"train", {{"max_iters", iters}, {"seed", 7}, {"log_interval", 2},
                                            {"eval_interval", 0}, {"checkpoint_interval", 0}}},
                                 {"data", {{"batch_per_rank", batch}}},
                                 {"optimizer", {{"type", "adamw"}, {"lr", 1e-2}, {"weight_decay", 0.01}}},
                                 {"schedule", {{"policy", "poly"}, {"power", 1.0}}}},
                                "test");
}

std::vector<at::Tensor> run(uda::comm::Communicator& comm, const uda::config::Config& cfg, int batch,
                            const std::string& dir, uda::worker::TrainResult* result = nullptr) {
  uda::worker::Trainer t(cfg, comm, torch::kCPU, dir);
  t.setup(std::make_unique<uda::test::SyntheticSource>(comm.rank(), comm.size(), batch),
          uda::worker::single_set(std::make_unique<uda::test::SyntheticEval>(comm.rank(), comm.size())), nullptr);
  auto r = t.run();
  if (result) *result = r;
  std::vector<at::Tensor> params;
  for (auto& kv : t.context().modules())
    for (auto& p : kv.second->parameters()) params.push_back(p.detach().clone());
  return params;
}

}  // namespace

// Statistics over the global batch: a mean over unequal per-rank counts
// (valid pixels, selected pixels) is the mean over all ranks' elements.
TEST(TrainerRanks, GlobalSumAndMeanOverUnequalCounts) {
  auto world = uda::comm::make_communicator(uda::comm::Backend::Mpi);
  ASSERT_EQ(world->size(), 2);
  auto cfg = toy_config(1, 1);
  uda::worker::TrainContext ctx(cfg, *world, torch::kCPU);
  const bool r0 = world->rank() == 0;
  EXPECT_DOUBLE_EQ(ctx.global_sum(r0 ? 1.0 : 3.0), 4.0);
  // Rank 0: 3 over 1 element, rank 1: 5 over 3 elements -> global mean 2.
  auto local = ctx.global_mean(torch::tensor(r0 ? 3.0 : 5.0, torch::kDouble), r0 ? 1.0 : 3.0);
  auto t = local.clone();
  world->all_reduce(t, uda::comm::ReduceOp::Average);  // what the reducer does to gradients
  EXPECT_DOUBLE_EQ(t.item<double>(), 2.0);
}

TEST(TrainerRanks, TwoRanksOfBEqualOneRankOf2B) {
  uda::test::register_toy_algorithms();
  auto world = uda::comm::make_communicator(uda::comm::Backend::Mpi);
  ASSERT_EQ(world->size(), 2);
  uda::test::TempDir d;
  uda::worker::TrainResult r2;
  auto two = run(*world, toy_config(1, 6), 1, d.path(), &r2);
  EXPECT_EQ(r2.iterations_done, 6);
  ASSERT_FALSE(r2.last_eval.is_null());
  EXPECT_EQ(r2.last_eval["per_class_iou"].size(), 4u);
  uda::comm::MpiCommunicator self(MPI_COMM_SELF);
  auto one = run(self, toy_config(2, 6), 2, d.path());
  ASSERT_EQ(one.size(), two.size());
  for (size_t i = 0; i < one.size(); ++i)
    EXPECT_TRUE(torch::allclose(one[i], two[i], 1e-5, 1e-6))
        << "param " << i << " max diff " << (one[i] - two[i]).abs().max().item<double>();
  // and training moved the parameters
  uda::comm::MpiCommunicator self2(MPI_COMM_SELF);
  auto short_run = run(self2, toy_config(2, 1), 2, d.path());
  EXPECT_FALSE(torch::allclose(one[0], short_run[0]));
}

// With BatchNorm the promise needs runtime.sync_bn: parameters, running
// statistics and the evaluation then match one rank of 2b; without it the
// per-rank batch statistics make the trajectories differ (the check bites).
TEST(TrainerRanks, SyncBatchNormTwoRanksOfBEqualOneRankOf2B) {
  uda::test::register_toy_algorithms();
  auto world = uda::comm::make_communicator(uda::comm::Backend::Mpi);
  ASSERT_EQ(world->size(), 2);
  uda::test::TempDir d;
  const auto state = [&](uda::comm::Communicator& comm, const uda::config::Config& cfg, int batch) {
    uda::worker::Trainer t(cfg, comm, torch::kCPU, d.path());
    t.setup(std::make_unique<uda::test::SyntheticSource>(comm.rank(), comm.size(), batch),
            uda::worker::single_set(std::make_unique<uda::test::SyntheticEval>(comm.rank(), comm.size())), nullptr);
    auto r = t.run();
    std::vector<at::Tensor> out;
    for (auto& kv : t.context().modules()) {
      for (auto& p : kv.second->parameters()) out.push_back(p.detach().clone());
      for (auto& b : kv.second->buffers()) out.push_back(b.detach().clone().to(torch::kDouble));
    }
    return std::make_pair(out, r.last_eval);
  };
  const auto two = state(*world, toy_config(2, 5, "test_toy_bn", true), 2);
  const auto unsynced = state(*world, toy_config(2, 5, "test_toy_bn", false), 2);
  uda::comm::MpiCommunicator self(MPI_COMM_SELF);
  const auto one = state(self, toy_config(4, 5, "test_toy_bn", true), 4);
  ASSERT_EQ(one.first.size(), two.first.size());
  ASSERT_GE(one.first.size(), 5u);  // conv, bn weight/bias, conv; running mean/var/count
  bool unsynced_differs = false;
  for (size_t i = 0; i < one.first.size(); ++i) {
    EXPECT_TRUE(torch::allclose(one.first[i], two.first[i], 1e-4, 1e-5))
        << "tensor " << i << " max diff " << (one.first[i] - two.first[i]).abs().max().item<double>();
    unsynced_differs |= !torch::allclose(one.first[i], unsynced.first[i], 1e-4, 1e-5);
  }
  EXPECT_TRUE(unsynced_differs);
  ASSERT_FALSE(one.second.is_null());
  EXPECT_NEAR(one.second["miou"].get<double>(), two.second["miou"].get<double>(), 1e-9);
}

TEST(TrainerRanks, NonFiniteLossStopsAllRanksWithTheLossName) {
  uda::test::register_toy_algorithms();
  auto world = uda::comm::make_communicator(uda::comm::Backend::Mpi);
  uda::test::TempDir d;
  try {
    run(*world, toy_config(1, 5, "test_nan"), 1, d.path());
    FAIL() << "expected a UserError";
  } catch (const uda::UserError& e) {
    EXPECT_NE(std::string(e.what()).find("non-finite loss 'loss_seg' at iteration 2"), std::string::npos) << e.what();
  }
  auto cfg = uda::config::from_json({{"algorithm", {{"name", "test_nan"}}},
                                     {"train", {{"max_iters", 5}, {"nan_policy", "skip"}, {"eval_interval", 0},
                                                {"checkpoint_interval", 0}}},
                                     {"data", {{"batch_per_rank", 1}}}},
                                    "test");
  uda::worker::Trainer t(cfg, *world, torch::kCPU, d.path());
  t.setup(std::make_unique<uda::test::SyntheticSource>(world->rank(), world->size(), 1), nullptr, nullptr);
  auto r = t.run();
  EXPECT_EQ(r.iterations_done, 5);
  EXPECT_EQ(t.context().skipped_steps(), 1);
}

namespace {
struct RecordingCheckpointer : uda::worker::Checkpointer {
  std::vector<std::pair<int64_t, bool>> saves;
  void save(uda::worker::TrainContext&, uda::worker::BatchSource&, int64_t next_iter, const nlohmann::json&,
            bool wait) override {
    saves.emplace_back(next_iter, wait);
  }
  std::optional<std::pair<int64_t, nlohmann::json>> restore(uda::worker::TrainContext&,
                                                            uda::worker::BatchSource&) override {
    return std::nullopt;
  }
  void wait() override {}
};

// Raises the preemption signal on rank 1 only, during iteration 3.
class SignallingSource : public uda::test::SyntheticSource {
 public:
  using SyntheticSource::SyntheticSource;
  int rank = 0;
  uda::algos::Batch next(int64_t iter) override {
    if (iter == 3 && rank == 1) std::raise(SIGUSR2);
    return SyntheticSource::next(iter);
  }
};
}  // namespace

TEST(TrainerRanks, PreemptionSignalOnOneRankCheckpointsEverywhereAndStops) {
  uda::test::register_toy_algorithms();
  auto world = uda::comm::make_communicator(uda::comm::Backend::Mpi);
  uda::test::TempDir d;
  auto cfg = toy_config(1, 10);
  uda::worker::Trainer t(cfg, *world, torch::kCPU, d.path());
  auto ck = std::make_unique<RecordingCheckpointer>();
  auto* rec = ck.get();
  auto src = std::make_unique<SignallingSource>(world->rank(), world->size(), 1);
  src->rank = world->rank();
  t.setup(std::move(src), nullptr, std::move(ck));
  auto r = t.run();
  EXPECT_TRUE(r.preempted);
  EXPECT_EQ(r.iterations_done, 4);
  ASSERT_EQ(rec->saves.size(), 1u);
  EXPECT_EQ(rec->saves[0].first, 4);
  EXPECT_TRUE(rec->saves[0].second) << "a preemption checkpoint must be waited for";
  uda::worker::reset_preemption();
}

namespace {
uda::config::Config pictures_config(int report_images) {
  return uda::config::from_json({{"algorithm", {{"name", "test_toy_pictures"}}},
                                 {"train", {{"max_iters", 4}, {"seed", 7}, {"log_interval", 2}, {"eval_interval", 2},
                                            {"checkpoint_interval", 0}, {"report_images", report_images}}},
                                 {"data", {{"batch_per_rank", 1}}},
                                 {"optimizer", {{"type", "adamw"}, {"lr", 1e-2}}}},
                                "test");
}
}  // namespace

// train.report_images: rank 0 writes pictures of each evaluation (the first
// images of its part of the set with ground truth, prediction and the
// algorithm's pseudo-labels, and the algorithm's grids); training is the same
// with and without them.
TEST(TrainerRanks, ReportImagesAreWrittenByRankZeroAndChangeNothing) {
  uda::test::register_toy_algorithms();
  auto world = uda::comm::make_communicator(uda::comm::Backend::Mpi);
  uda::test::TempDir with, without;
  const auto pictured = run(*world, pictures_config(2), 1, with.path());
  const auto plain = run(*world, pictures_config(0), 1, without.path());
  ASSERT_EQ(pictured.size(), plain.size());
  for (size_t i = 0; i < plain.size(); ++i) EXPECT_TRUE(torch::equal(pictured[i], plain[i])) << "param " << i;
  EXPECT_FALSE(std::filesystem::exists(without / "report_images"));
  if (world->rank() != 0) {
    EXPECT_FALSE(std::filesystem::exists(with / "report_images"));
    return;
  }
  for (int iter : {2, 4}) {
    const std::string dir = with / ("report_images/iter_" + std::to_string(iter));
    const auto index = nlohmann::json::parse(uda::test::read_text(dir + "/index.json"));
    EXPECT_EQ(index["iter"], iter);
    EXPECT_EQ(index["classes"], nlohmann::json({"a", "b", "c", "d"}));
    EXPECT_EQ(index["palette"][0], nlohmann::json({128, 64, 128}));
    ASSERT_EQ(index["segmentation"].size(), 2u);
    EXPECT_FALSE(index.contains("confusion"));  // a segmentation set
    for (const auto& row : index["segmentation"])
      for (const char* key : {"image", "ground_truth", "prediction", "pseudo_label"}) {
        const auto png = uda::data::read_png(dir + "/" + row[key].get<std::string>(), uda::data::PngMode::kRgb);
        EXPECT_EQ(png.height, 8) << key;
        EXPECT_EQ(png.width, 8) << key;
      }
    // The pseudo-labels are the toy's predictions: the same picture.
    EXPECT_EQ(uda::test::read_text(dir + "/prediction_1.png"), uda::test::read_text(dir + "/pseudo_label_1.png"));
    ASSERT_EQ(index["grids"], nlohmann::json::parse(R"([{"name": "samples", "file": "grid_samples.png"}])"));
    const auto grid = uda::data::read_png(dir + "/grid_samples.png", uda::data::PngMode::kRgb);
    EXPECT_EQ(grid.width, 2 + 2 * (8 + 2));  // 2 x 2 images of 8 pixels, 2-pixel gaps
    EXPECT_EQ(grid.data8[3 * (grid.width * 2 + 2)], 0);  // the first image: black
    EXPECT_EQ(grid.data8[3 * (grid.width * 12 + 12)], 255);  // the last: white
  }
}

// Classification sets get confusion matrices (counts over all ranks), label maps do not.
TEST(TrainerRanks, ReportImagesKeepTheConfusionMatricesOfClassificationSets) {
  uda::test::register_toy_algorithms();
  uda::worker::ReportImages pictures(2, {0, 0, 0}, {1, 1, 1});
  uda::worker::ConfusionMatrix cm(2);
  cm.add(0, 0, 5);
  cm.add(0, 1, 1);
  cm.add(1, 1, 4);
  pictures.batch("env0_in", torch::zeros({3, 3, 4, 4}), torch::tensor({0, 1, 1}), torch::zeros({3, 2}));
  pictures.matrix("env0_in", cm, {"cat", "dog"});
  pictures.batch("seg", torch::zeros({1, 3, 4, 4}), torch::zeros({1, 4, 4}, torch::kLong), torch::zeros({1, 2, 4, 4}));
  pictures.matrix("seg", cm, {"cat", "dog"});
  uda::test::TempDir d;
  auto algorithm = uda::algos::make_algorithm("test_toy");
  pictures.write(d.path(), 7, {{"domains", {"art", "photo"}}, {"test_domains", {0}}}, *algorithm);
  const auto index = nlohmann::json::parse(uda::test::read_text(d / "report_images/iter_7/index.json"));
  EXPECT_EQ(index["confusion"], nlohmann::json::parse(R"([{"set": "env0_in", "counts": [[5, 1], [0, 4]]}])"));
  EXPECT_EQ(index["domains"], nlohmann::json({"art", "photo"}));
  EXPECT_EQ(index["test_domains"], nlohmann::json({0}));
  EXPECT_EQ(index["segmentation"].size(), 1u);
  EXPECT_FALSE(index["segmentation"][0].contains("pseudo_label"));  // test_toy has none
  EXPECT_FALSE(index.contains("grids"));
}
