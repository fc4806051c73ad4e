// Evaluation under PGD (worker/robust_eval.h, worker/evaluator.h): the
// attacked images stay in the eps-ball and the pixel box, the attack lowers
// a linear classifier's accuracy and eps 0 leaves it, the random start of an
// image does not depend on the batch it is in (hence not on the world
// size), the DG summaries of the attacked accuracies, and the one-line
// errors.
#include "core/config.h"
#include "core/error.h"
#include "worker/robust_eval.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

namespace uda::worker {
namespace {

// One rank: every collective is the identity.
class OneRank : public comm::Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string backend() const override { return "one-rank"; }
  void barrier() override {}
  void broadcast(at::Tensor&, int) override {}
  std::unique_ptr<comm::Work> all_reduce_async(at::Tensor, comm::ReduceOp) override {
    struct Done : comm::Work {
      void wait() override {}
      bool test() override { return true; }
    };
    return std::make_unique<Done>();
  }
  at::Tensor all_gather(const at::Tensor& t) override { return t.unsqueeze(0); }
};

// A fixed set of batches.
class Batches : public EvalSource {
 public:
  Batches(std::vector<at::Tensor> images, std::vector<at::Tensor> labels)
      : images_(std::move(images)), labels_(std::move(labels)) {}
  void reset() override { at_ = 0; }
  bool next(at::Tensor& images, at::Tensor& labels) override {
    if (at_ >= images_.size()) return false;
    images = images_[at_];
    labels = labels_[at_++];
    return true;
  }
  int num_classes() const override { return 3; }
  std::vector<std::string> class_names() const override { return {"a", "b", "c"}; }

 private:
  std::vector<at::Tensor> images_, labels_;
  size_t at_ = 0;
};

config::Config attack_config(double epsilon, int64_t steps = 10) {
  nlohmann::json j = {{"model", {{"in_channels", 1}}},
                      {"data", {{"val", {{"mean", {0, 0, 0}}, {"std", {255, 255, 255}}}}}},
                      {"train", {{"eval_attack", "pgd"}, {"eval_attack_epsilon", epsilon},
                                 {"eval_attack_step_size", 0.05}, {"eval_attack_steps", steps}}}};
  return config::from_json(j, "robust_eval_test.json");
}

struct Fixture {
  torch::nn::Linear net{nullptr};
  PredictFn predict;
  at::Tensor images, labels;
  Fixture() {
    torch::manual_seed(0);
    net = torch::nn::Linear(16, 3);
    predict = [this](const at::Tensor& x) { return net->forward(x.flatten(1)); };
    images = torch::rand({12, 1, 4, 4});
    torch::NoGradGuard g;
    labels = predict(images).argmax(1);  // every prediction right before the attack
  }
};

TEST(RobustEval, AttackStaysInTheBallAndTheBoxAndLowersAccuracy) {
  Fixture f;
  const auto attack = make_eval_attack(attack_config(0.2), f.predict, torch::kCPU);
  ASSERT_TRUE(attack);
  const auto adv = (*attack)(f.images, f.labels);
  EXPECT_LE((adv - f.images).abs().max().item<double>(), 0.2 + 1e-6);
  EXPECT_GE(adv.min().item<double>(), 0.0);
  EXPECT_LE(adv.max().item<double>(), 1.0);
  OneRank comm;
  std::vector<EvalSuite::Set> sets;
  sets.push_back({"", std::make_unique<Batches>(std::vector<at::Tensor>{f.images}, std::vector<at::Tensor>{f.labels})});
  EvalSuite suite(std::move(sets));
  const auto j = evaluate_suite(f.predict, suite, comm, nullptr, {}, &*attack);
  EXPECT_DOUBLE_EQ(j["accuracy"].get<double>(), 1.0);
  EXPECT_LT(j["pgd_accuracy"].get<double>(), 0.5) << j.dump();
  // eps 0: the attacked images are the images.
  const auto none = make_eval_attack(attack_config(0.0), f.predict, torch::kCPU);
  EXPECT_TRUE(torch::equal((*none)(f.images, f.labels), f.images));
}

TEST(RobustEval, AnImagesAttackDoesNotDependOnItsBatch) {
  Fixture f;
  const auto attack = make_eval_attack(attack_config(0.3, 3), f.predict, torch::kCPU);
  const auto whole = (*attack)(f.images, f.labels);
  // Rows 5..8 alone, in another order: the same attacked rows.
  auto idx = torch::tensor({8, 6, 5, 7}, torch::kLong);
  const auto part = (*attack)(f.images.index_select(0, idx), f.labels.index_select(0, idx));
  EXPECT_TRUE(torch::equal(part, whole.index_select(0, idx)));
  // Repeatable.
  EXPECT_TRUE(torch::equal((*attack)(f.images, f.labels), whole));
}

// A DG-like suite: summaries of the attacked accuracies, prefixed pgd_.
class TwoDomains : public EvalSuite {
 public:
  using EvalSuite::EvalSuite;
  void summarize(nlohmann::json& r) const override {
    if (r.contains("env0_out_acc") && r["env0_out_acc"].is_number()) r["train_domain_val_acc"] = r["env0_out_acc"];
    if (r.contains("env1_in_acc") && r["env1_in_acc"].is_number()) r["test_domain_acc"] = r["env1_in_acc"];
  }
};

TEST(RobustEval, DomainSummariesOfTheAttackedAccuracies) {
  Fixture f;
  const auto attack = make_eval_attack(attack_config(0.2), f.predict, torch::kCPU);
  std::vector<EvalSuite::Set> sets;
  sets.push_back({"env0_out", std::make_unique<Batches>(std::vector<at::Tensor>{f.images},
                                                        std::vector<at::Tensor>{f.labels})});
  sets.push_back({"env1_in", std::make_unique<Batches>(std::vector<at::Tensor>{f.images},
                                                       std::vector<at::Tensor>{f.labels})});
  TwoDomains suite(std::move(sets));
  OneRank comm;
  const auto j = evaluate_suite(f.predict, suite, comm, nullptr, {}, &*attack);
  EXPECT_DOUBLE_EQ(j["test_domain_acc"].get<double>(), 1.0);
  EXPECT_EQ(j["pgd_test_domain_acc"], j["env1_in_pgd_acc"]) << j.dump();
  EXPECT_EQ(j["pgd_train_domain_val_acc"], j["env0_out_pgd_acc"]) << j.dump();
  EXPECT_LT(j["pgd_test_domain_acc"].get<double>(), 0.5);
}

TEST(RobustEval, BadSettingsAreUserErrorsNamingTheKey) {
  Fixture f;
  auto expect_error = [&](const config::Config& cfg, const std::string& key) {
    try {
      make_eval_attack(cfg, f.predict, torch::kCPU);
      ADD_FAILURE() << "no error for " << key;
    } catch (const UserError& e) {
      EXPECT_EQ(e.where(), key) << e.line();
    }
  };
  expect_error(attack_config(-0.1), "train.eval_attack_epsilon");
  expect_error(attack_config(0.3, 0), "train.eval_attack_steps");
  // Per-pixel labels (segmentation): refused when the attack runs.
  const auto attack = make_eval_attack(attack_config(0.3), f.predict, torch::kCPU);
  EXPECT_THROW((*attack)(f.images, torch::zeros({12, 4, 4}, torch::kLong)), UserError);
  EXPECT_FALSE(make_eval_attack(config::from_json(nlohmann::json::object(), "none.json"), f.predict, torch::kCPU));
}

}  // namespace
}  // namespace uda::worker
