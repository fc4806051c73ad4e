// Run under `mpirun -np 2`. DACS and DAFormer (algos/dacs.cpp) through the
// real trainer on two ranks with a tiny MiT-B0 + DAFormer head at 32x32:
// the losses decrease, replicas stay identical (train.verify_replicas_interval),
// the frozen ImageNet reference never moves, and a run resumed from a
// checkpoint ends bit-identical to the uninterrupted one.
#include "comm/communicator.h"
#include "comm/mpi_runtime.h"
#include "core/config.h"
#include "tests/support/test_support.h"
#include "worker/batch_source.h"
#include "worker/checkpointer.h"
#include "worker/trainer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <mpi.h>
#include <fstream>

namespace {

constexpr int kSize = 32;
constexpr int kClasses = 4;

// Slot k: a background of class 0 with rectangles of classes 1..3; pixel
// colour = class colour + noise. The target domain shifts the colours.
std::pair<at::Tensor, at::Tensor> scene(int64_t slot, bool target) {
  auto g = at::make_generator<at::CPUGeneratorImpl>((target ? 90000 : 10000) + slot);
  auto label = torch::zeros({kSize, kSize}, torch::kLong);
  for (int c = 1; c < kClasses; ++c) {
    auto r = torch::randint(0, kSize - 8, {2}, g, torch::TensorOptions().dtype(torch::kLong));
    auto wh = torch::randint(6, 14, {2}, g, torch::TensorOptions().dtype(torch::kLong));
    const int64_t y = r[0].item<int64_t>(), x = r[1].item<int64_t>();
    label.slice(0, y, std::min<int64_t>(kSize, y + wh[0].item<int64_t>()))
        .slice(1, x, std::min<int64_t>(kSize, x + wh[1].item<int64_t>()))
        .fill_(c);
  }
  auto colours = torch::tensor({{-1.0f, -1.0f, -1.0f}, {1.5f, -0.5f, -0.5f}, {-0.5f, 1.5f, -0.5f}, {-0.5f, -0.5f, 1.5f}});
  if (target) colours = colours * 0.7f + 0.3f;
  auto img = colours.index_select(0, label.view(-1)).view({kSize, kSize, 3}).permute({2, 0, 1}).contiguous();
  img = img + 0.3f * torch::randn({3, kSize, kSize}, g, torch::TensorOptions());
  return {img, label};
}

class SceneSource : public uda::worker::BatchSource {
 public:
  SceneSource(int rank, int world, int batch) : rank_(rank), world_(world), batch_(batch) {}
  uda::algos::Batch next(int64_t iter) override {
    if (iter != next_) throw std::logic_error("SceneSource: iterations must be consecutive");
    ++next_;
    std::vector<at::Tensor> si, sl, ti;
    std::vector<int64_t> slots;
    for (int j = 0; j < batch_; ++j) {
      const int64_t slot = iter * world_ * batch_ + int64_t{j} * world_ + rank_;
      auto [img, lbl] = scene(slot, false);
      si.push_back(img);
      sl.push_back(lbl);
      ti.push_back(scene(slot, true).first);
      slots.push_back(slot);
    }
    uda::algos::Batch b;
    b.source.images = torch::stack(si);
    b.source.labels = torch::stack(sl);
    b.source.indices = torch::tensor(slots, torch::kLong);
    b.target.images = torch::stack(ti);
    b.target.indices = b.source.indices.clone();
    return b;
  }
  nlohmann::json state() const override { return {{"next_iter", next_}}; }
  void restore(const nlohmann::json& s) override { next_ = s.at("next_iter").get<int64_t>(); }

 private:
  int rank_, world_, batch_;
  int64_t next_ = 0;
};

class SceneEval : public uda::worker::EvalSource {
 public:
  SceneEval(int rank, int world) : rank_(rank), world_(world) {}
  void reset() override { pos_ = rank_; }
  bool next(at::Tensor& images, at::Tensor& labels) override {
    if (pos_ >= 8) return false;
    auto [img, lbl] = scene(100000 + pos_, true);
    images = img.unsqueeze(0);
    labels = lbl.unsqueeze(0);
    pos_ += world_;
    return true;
  }
  int num_classes() const override { return kClasses; }
  std::vector<std::string> class_names() const override { return {"bg", "a", "b", "c"}; }

 private:
  int rank_, world_;
  int pos_ = 0;
};

nlohmann::json base_config(const std::string& algo, int iters) {
  nlohmann::json alg = {{"name", algo}, {"alpha", 0.99}};
  if (algo == "daformer") {
    alg["imnet_feature_dist_lambda"] = 0.005;
    alg["imnet_feature_dist_classes"] = {1, 2, 3};
    alg["pseudo_weight_ignore_top"] = 1;
    alg["pseudo_weight_ignore_bottom"] = 4;
  }
  return {{"algorithm", alg},
          {"model",
           {{"backbone", {{"type", "mit_b0"}, {"drop_path_rate", 0.0}}},
            {"head", {{"type", "daformer"}, {"channels", 16}, {"embed_dims", 16}, {"dilations", {1, 2, 3, 4}}}},
            {"num_classes", kClasses}}},
          {"data", {{"batch_per_rank", 2}}},
          {"optimizer",
           {{"type", "adamw"}, {"lr", 1e-3}, {"weight_decay", 0.01}, {"paramwise", {{"head", {{"lr_mult", 10.0}}}}}}},
          {"schedule", {{"policy", "poly"}, {"power", 1.0}}},
          {"train",
           {{"max_iters", iters}, {"seed", 3}, {"log_interval", 1}, {"eval_interval", 0},
            {"checkpoint_interval", 0}, {"verify_replicas_interval", 5}}},
          {"runtime", {{"device", "cpu"}, {"intra_op_threads", 1}}}};
}

std::vector<nlohmann::json> metrics(const std::string& dir) {
  std::vector<nlohmann::json> out;
  std::ifstream in(std::filesystem::path(dir) / "metrics.jsonl");
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

double mean_of(const std::vector<nlohmann::json>& m, const std::string& key, size_t from, size_t to) {
  double s = 0;
  for (size_t i = from; i < to; ++i) s += m[i].at(key).get<double>();
  return s / static_cast<double>(to - from);
}

std::map<std::string, at::Tensor> snapshot(uda::worker::Trainer& t) {
  std::map<std::string, at::Tensor> out;
  for (auto& [name, m] : t.context().modules())
    for (auto& p : m->named_parameters(true)) out[name + "." + p.key()] = p.value().detach().clone();
  return out;
}

std::string shared_dir(uda::comm::Communicator& comm, const std::string& tag) {
  // One directory for both ranks: rank 0's name, broadcast.
  auto name = torch::zeros({256}, torch::kLong);
  if (comm.rank() == 0) {
    static uda::test::TempDir d;
    const std::string p = d.path() + "/" + tag;
    for (size_t i = 0; i < p.size(); ++i) name[static_cast<int64_t>(i)] = p[i];
  }
  comm.broadcast(name, 0);
  std::string p;
  for (int64_t i = 0; i < 256 && name[i].item<int64_t>() != 0; ++i) p.push_back(static_cast<char>(name[i].item<int64_t>()));
  std::filesystem::create_directories(p);
  comm.barrier();
  return p;
}

void check_training(const std::string& algo) {
  auto world = uda::comm::make_communicator(uda::comm::Backend::Mpi);
  ASSERT_EQ(world->size(), 2);
  const std::string dir = shared_dir(*world, algo);
  auto cfg = uda::config::from_json(base_config(algo, 40), "test");
  uda::worker::Trainer t(cfg, *world, torch::kCPU, dir);
  t.setup(std::make_unique<SceneSource>(world->rank(), world->size(), 2),
          uda::worker::single_set(std::make_unique<SceneEval>(world->rank(), world->size())), nullptr);
  const auto before = snapshot(t);
  auto r = t.run();  // verify_replicas_interval: throws if the ranks diverge
  EXPECT_EQ(r.iterations_done, 40);
  const auto after = snapshot(t);
  if (algo == "daformer") {
    size_t n = 0;
    for (const auto& [k, v] : before)
      if (k.rfind("imnet_model.", 0) == 0) {
        ++n;
        EXPECT_TRUE(v.equal(after.at(k))) << k << " moved";
      }
    EXPECT_GT(n, 0u);
  }
  // The teacher follows the student (EMA), it is not frozen.
  EXPECT_FALSE(before.at("ema_model.decode_head.conv_seg.weight").equal(after.at("ema_model.decode_head.conv_seg.weight")));
  // Pseudo-labels for the report pictures: the teacher's classes at the
  // input size, its buffers (BatchNorm statistics) untouched.
  std::vector<at::Tensor> buffers;
  for (auto& [name, m] : t.context().modules())
    if (name == "ema_model")
      for (auto& b : m->buffers()) buffers.push_back(b.clone());
  const at::Tensor pl = t.algorithm().pseudo_label(scene(7, true).first.unsqueeze(0));
  EXPECT_EQ(pl.sizes(), (std::vector<int64_t>{1, kSize, kSize}));
  EXPECT_GE(pl.min().item<int64_t>(), 0);
  EXPECT_LT(pl.max().item<int64_t>(), kClasses);
  size_t k = 0;
  for (auto& [name, m] : t.context().modules()) {
    if (name != "ema_model") continue;
    for (auto& b : m->buffers()) EXPECT_TRUE(b.equal(buffers[k++])) << "teacher buffer " << k;
  }
  EXPECT_GT(k, 0u);
  if (world->rank() == 0) {
    auto m = metrics(dir);
    ASSERT_EQ(m.size(), 40u);
    for (const char* key : {"loss_seg", "loss_mix", "pseudo_weight"}) {
      ASSERT_TRUE(m[0].contains(key)) << key;
    }
    if (algo == "daformer") {
      EXPECT_TRUE(m[0].contains("loss_imnet_feat_dist"));
    }
    const double seg0 = mean_of(m, "loss_seg", 0, 5), seg1 = mean_of(m, "loss_seg", 35, 40);
    const double mix0 = mean_of(m, "loss_mix", 0, 5), mix1 = mean_of(m, "loss_mix", 35, 40);
    EXPECT_LT(seg1, 0.7 * seg0) << algo << " source loss " << seg0 << " -> " << seg1;
    EXPECT_LT(mix1, mix0) << algo << " mixed loss " << mix0 << " -> " << mix1;
    // The last evaluation's pictures: rank 0's 4 images with the teacher's pseudo-labels.
    const std::string pictures = dir + "/report_images/iter_40/";
    std::ifstream index_file(pictures + "index.json");
    const auto index = nlohmann::json::parse(index_file);
    ASSERT_EQ(index["segmentation"].size(), 4u);
    for (const auto& row : index["segmentation"])
      EXPECT_TRUE(std::filesystem::exists(pictures + row.value("pseudo_label", std::string("none")))) << row;
    // 40 steps at 32x32 rarely bring the teacher to tau = 0.968: only check the range.
    for (const auto& line : m) {
      EXPECT_GE(line.at("pseudo_weight").get<double>(), 0.0);
      EXPECT_LE(line.at("pseudo_weight").get<double>(), 1.0);
    }
  }
}

TEST(DacsRanks, DacsLossesDecreaseOnTwoRanks) { check_training("dacs"); }

TEST(DacsRanks, DaformerLossesDecreaseAndImnetModelStaysFrozen) { check_training("daformer"); }

TEST(DacsRanks, ResumeIsBitExact) {
  auto world = uda::comm::make_communicator(uda::comm::Backend::Mpi);
  const std::string full_dir = shared_dir(*world, "resume_full");
  const std::string part_dir = shared_dir(*world, "resume_part");
  auto j = base_config("daformer", 6);
  j["train"]["checkpoint_interval"] = 3;
  j["train"]["keep_checkpoints"] = 5;
  auto cfg = uda::config::from_json(j, "test");
  auto make_ck = [&](const std::string& dir, const std::string& from) {
    uda::worker::CheckpointerOptions o;
    o.run_dir = dir;
    o.async = false;
    o.config_hash = cfg.hash();
    o.resume_from = from;
    return uda::worker::make_checkpointer(o);
  };
  std::map<std::string, at::Tensor> full;
  {
    uda::worker::Trainer t(cfg, *world, torch::kCPU, full_dir);
    t.setup(std::make_unique<SceneSource>(world->rank(), world->size(), 2),
            uda::worker::single_set(std::make_unique<SceneEval>(world->rank(), world->size())), make_ck(full_dir, ""));
    t.run();
    full = snapshot(t);
  }
  // Resume the same recipe from the iteration-3 checkpoint of the full run.
  const std::string ck = full_dir + "/checkpoints/iter_00000003";
  ASSERT_TRUE(std::filesystem::exists(ck)) << ck;
  uda::worker::Trainer t(cfg, *world, torch::kCPU, part_dir);
  t.setup(std::make_unique<SceneSource>(world->rank(), world->size(), 2),
          uda::worker::single_set(std::make_unique<SceneEval>(world->rank(), world->size())), make_ck(part_dir, ck));
  auto r = t.run();
  EXPECT_EQ(r.iterations_done, 6);
  const auto resumed = snapshot(t);
  ASSERT_EQ(resumed.size(), full.size());
  for (const auto& [k, v] : full) EXPECT_TRUE(v.equal(resumed.at(k))) << k;
}

}  // namespace
