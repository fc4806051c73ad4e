// The DomainBed protocol of sweep files: the hyper-parameter registry
// against the fact sheet's verified draws, the job list (order, count,
// seeds), each job's overrides on uda keys, and the errors.
#include "core/numpy_random.h"
#include "core/error.h"
#include "data/manifest.h"
#include "launcher/dg_hparams.h"
#include "launcher/sweep_spec.h"
#include "tests/support/test_support.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>

using nlohmann::json;
using namespace uda::cli;

namespace {

const std::string kBase = std::string(UDA_SOURCE_DIR) + "/configs/toyscenes/source_only.json";

std::map<std::string, json> hparams_of(const std::string& algorithm, const std::string& dataset, bool small,
                                       int64_t hs, int64_t trial) {
  std::map<std::string, json> out;
  for (const auto& h : dg_hparams(*find_dg_algorithm(algorithm), dataset, small, hs, trial)) out[h.name] = h.value;
  return out;
}

// Relative agreement to the fact sheet's printed digits.
void near(const json& v, double want, double digits_tol) {
  ASSERT_TRUE(v.is_number_float()) << v;
  EXPECT_NEAR(v.get<double>(), want, std::abs(want) * digits_tol) << v;
}

json doc() {
  return json{{"name", "dg"},
              {"protocol", "domainbed"},
              {"datasets",
               {{"RotatedFMNIST", {{"config", kBase}, {"small_images", true}, {"num_domains", 6}}},
                {"PACSlike", {{"config", kBase}, {"num_domains", 4}}}}},
              {"algorithms", {"erm", "dann"}},
              {"test_domains", "single"},
              {"n_hparams", 3},
              {"n_trials", 2},
              {"set", {{"train.max_iters", 50}}},
              {"nproc", 2}};
}

void expect_error(const json& d, const std::string& where, const std::string& what) {
  try {
    expand(parse_sweep(d, "s.json"));
    ADD_FAILURE() << "no error for " << d.dump();
  } catch (const uda::UserError& e) {
    EXPECT_NE(e.where().find(where), std::string::npos) << e.line();
    EXPECT_NE(e.what_part().find(what), std::string::npos) << e.line();
    EXPECT_FALSE(e.fix().empty());
  }
}

}  // namespace

// hparams_registry.py, small images, trial_seed 0 (fact sheet §1.2).
TEST(DgHparams, FactSheetSmallImageDraws) {
  auto h = hparams_of("dann", "RotatedMNIST", true, 1, 0);
  near(h["lr"], 1.19e-4, 5e-3);
  EXPECT_EQ(h["batch_size"], 372);
  EXPECT_EQ(h["resnet_dropout"], 0.5);
  near(h["lambda"], 3.500348, 1e-6);
  near(h["weight_decay_d"], 1.01e-4, 5e-3);
  EXPECT_EQ(h["d_steps_per_g_step"], 7);
  near(h["grad_penalty"], 3.044418, 1e-6);
  EXPECT_EQ(h["beta1"], 0.5);
  EXPECT_EQ(h["mlp_width"], 255);
  EXPECT_EQ(h["mlp_depth"], 4);
  EXPECT_EQ(h["mlp_dropout"], 0.5);
  near(h["lr_g"], 1.595e-3, 1e-3);
  near(h["lr_d"], 6.7e-5, 5e-3);
  EXPECT_EQ(h["weight_decay"], 0.0);
  EXPECT_EQ(h["weight_decay_g"], 0.0);
  EXPECT_EQ(hparams_of("cdann", "RotatedMNIST", true, 1, 0), h);  // CDANN == DANN
  near(hparams_of("coral", "RotatedMNIST", true, 1, 0)["mmd_gamma"], 1.422757, 1e-6);
  near(hparams_of("mmd", "RotatedMNIST", true, 1, 0)["mmd_gamma"], 1.422757, 1e-6);
  auto m = hparams_of("mldg", "RotatedMNIST", true, 1, 0);
  near(m["mldg_beta"], 5.421146, 1e-6);
  EXPECT_EQ(m["n_meta_test"], 1);

  h = hparams_of("dann", "RotatedMNIST", true, 2, 0);
  near(h["lr"], 3.21e-4, 5e-3);
  EXPECT_EQ(h["batch_size"], 126);
  near(h["lambda"], 4.897902, 1e-6);
  near(h["weight_decay_d"], 4.188e-3, 5e-4);
  EXPECT_EQ(h["d_steps_per_g_step"], 4);
  near(h["grad_penalty"], 0.013351, 1e-4);
  EXPECT_EQ(h["beta1"], 0.5);
  EXPECT_EQ(h["mlp_width"], 497);
  EXPECT_EQ(h["mlp_depth"], 5);
  EXPECT_EQ(h["mlp_dropout"], 0.1);
  near(h["lr_g"], 3.45e-4, 5e-3);
  near(h["lr_d"], 6.3e-5, 5e-3);
  near(hparams_of("mmd", "RotatedMNIST", true, 2, 0)["mmd_gamma"], 3.514682, 1e-6);
  m = hparams_of("mldg", "RotatedMNIST", true, 2, 0);
  near(m["mldg_beta"], 1.285657, 1e-6);
  EXPECT_EQ(m["n_meta_test"], 2);

  // Big images (PACS), ERM, hparams_seed 1.
  h = hparams_of("erm", "PACS", false, 1, 0);
  near(h["lr"], 2.7029e-5, 5e-5);
  EXPECT_EQ(h["batch_size"], 39);
  near(h["weight_decay"], 4.4833e-4, 5e-5);
}

TEST(DgHparams, DrawZeroIsTheDefaults) {
  auto h = hparams_of("dann", "RotatedMNIST", true, 0, 2);
  EXPECT_EQ(h["lr"], 1e-3);
  EXPECT_EQ(h["batch_size"], 64);
  EXPECT_EQ(h["lambda"], 1.0);
  EXPECT_EQ(h["d_steps_per_g_step"], 1);
  EXPECT_EQ(h["mlp_width"], 256);
  EXPECT_EQ(h["beta1"], 0.5);
  h = hparams_of("erm", "PACS", false, 0, 0);
  EXPECT_EQ(h["lr"], 5e-5);
  EXPECT_EQ(h["batch_size"], 32);
  EXPECT_EQ(h.count("lambda"), 0u);
  EXPECT_EQ(hparams_of("mldg", "X", false, 0, 0)["n_meta_test"], 2);
  // Random draws depend on the trial (train.py:78-79).
  EXPECT_NE(hparams_of("erm", "X", false, 1, 0)["lr"], hparams_of("erm", "X", false, 1, 1)["lr"]);
  EXPECT_TRUE(domainbed_small_images("ColoredMNIST"));
  EXPECT_FALSE(domainbed_small_images("RotatedFMNIST"));  // SMALL_IMAGES is a fixed list (:15)
}

TEST(DgSweep, JobsInDomainBedOrder) {
  const auto spec = parse_sweep(doc(), "s.json");
  ASSERT_TRUE(spec.domainbed.has_value());
  const auto& dg = *spec.domainbed;
  // Datasets in name order (a JSON object).
  ASSERT_EQ(dg.datasets.size(), 2u);
  EXPECT_EQ(dg.datasets[0].name, "PACSlike");
  EXPECT_FALSE(dg.datasets[0].small_images);
  EXPECT_TRUE(dg.datasets[1].small_images);
  const auto jobs = dg_jobs(dg);
  // trials x (PACSlike 4 + RotatedFMNIST 6 test domains) x algorithms x draws.
  ASSERT_EQ(jobs.size(), 2u * (4 + 6) * 2 * 3);
  EXPECT_EQ(jobs[0].trial_seed, 0);
  EXPECT_EQ(jobs[0].dataset->name, "PACSlike");
  EXPECT_EQ(jobs[0].algorithm->uda_name, "erm");
  EXPECT_EQ(jobs[0].test_envs, std::vector<int64_t>{0});
  EXPECT_EQ(jobs[1].hparams_seed, 1);  // hparams_seed fastest
  EXPECT_EQ(jobs[3].test_envs, std::vector<int64_t>{1});
  EXPECT_EQ(jobs[12].algorithm->uda_name, "dann");
  EXPECT_EQ(jobs[24].dataset->name, "RotatedFMNIST");
  EXPECT_EQ(jobs[60].trial_seed, 1);
  EXPECT_EQ(jobs[0].seed, uda::numpy_random::seed_hash({std::string("PACSlike"), std::string("ERM"), std::vector<int64_t>{0}, int64_t{0},
                                     int64_t{0}}));
  auto pairs = doc();
  pairs["test_domains"] = "single_and_pairs";
  // 4 + 6 singles and 6 + 15 pairs (all_test_env_combinations).
  const auto pj = dg_jobs(*parse_sweep(pairs, "s.json").domainbed);
  EXPECT_EQ(pj.size(), 2u * (4 + 6 + 6 + 15) * 2 * 3);
  EXPECT_EQ(pj[3].test_envs, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(pj[4 * 3].test_envs, (std::vector<int64_t>{1}));
}

TEST(DgSweep, JobOverridesOnUdaKeys) {
  const auto points = expand(parse_sweep(doc(), "s.json"));
  ASSERT_EQ(points.size(), 120u);
  auto get = [](const SweepPoint& p, const std::string& k) {
    json v;
    for (const auto& [key, val] : p.overrides)
      if (key == k) v = val;
    return v;
  };
  // ERM on PACSlike (big images), trial 0, test domain 0, draw 1.
  const SweepPoint& p = points[1];
  EXPECT_EQ(p.base, kBase);
  EXPECT_EQ(get(p, "algorithm.name"), "erm");
  EXPECT_EQ(get(p, "data.test_domains"), json::array({0}));
  EXPECT_EQ(get(p, "data.split_seed"), 0);
  EXPECT_EQ(get(p, "train.hparams_seed"), 1);
  auto h = hparams_of("erm", "PACSlike", false, 1, 0);
  EXPECT_EQ(get(p, "optimizer.lr"), h["lr"]);
  EXPECT_EQ(get(p, "optimizer.weight_decay"), h["weight_decay"]);
  EXPECT_EQ(get(p, "model.dropout"), h["resnet_dropout"]);
  // batch_size / nproc, rounded half up.
  EXPECT_EQ(get(p, "data.batch_per_rank"), (h["batch_size"].get<int64_t>() + 1) / 2);
  EXPECT_TRUE(get(p, "algorithm.lambda").is_null());  // ERM has none
  EXPECT_EQ(get(p, "train.max_iters"), 50);
  EXPECT_EQ(p.overrides.back().first, "train.seed");
  EXPECT_EQ(p.seed, p.domainbed["seed"]);
  EXPECT_EQ(p.domainbed["algorithm"], "ERM");
  EXPECT_EQ(p.domainbed["hparams"]["batch_size"], h["batch_size"]);
  EXPECT_FALSE(p.hparams.contains("train.max_iters"));
  EXPECT_TRUE(p.hparams.contains("optimizer.lr"));

  // DANN on RotatedFMNIST (small images): no model.dropout (MNIST_CNN), the
  // algorithm.<name> keys; draw 0 = defaults.
  const SweepPoint& d = points[24 + 18];
  EXPECT_EQ(get(d, "algorithm.name"), "dann");
  EXPECT_EQ(get(d, "train.hparams_seed"), 0);
  EXPECT_TRUE(get(d, "model.dropout").is_null());
  EXPECT_EQ(get(d, "algorithm.lambda"), 1.0);
  EXPECT_EQ(get(d, "algorithm.d_steps_per_g_step"), 1);
  EXPECT_EQ(get(d, "algorithm.lr_g"), 1e-3);
  EXPECT_EQ(get(d, "algorithm.weight_decay_d"), 0.0);
  EXPECT_EQ(get(d, "algorithm.mlp_width"), 256);
  EXPECT_EQ(get(d, "data.batch_per_rank"), 32);  // 64 / 2 ranks
  EXPECT_EQ(get(d, "optimizer.weight_decay"), 0.0);

  // `set` wins over a draw (DomainBed's --hparams) and leaves hparams.
  auto s = doc();
  s["set"]["optimizer.lr"] = 0.5;
  const auto q = expand(parse_sweep(s, "s.json"));
  EXPECT_EQ(get(q[1], "optimizer.lr"), 0.5);
  EXPECT_FALSE(q[1].hparams.contains("optimizer.lr"));
}

TEST(DgSweep, DomainCountFromTheManifest) {
  uda::test::TempDir t;
  uda::data::Manifest m;
  m.task = uda::data::Task::kClassification;
  m.class_names = {"a", "b"};
  m.domain_names = {"0", "15", "30"};
  std::filesystem::create_directories(t / "ds");
  uda::data::save_manifest(m, t / "ds");
  auto d = doc();
  d["set"]["data.source.path"] = t / "ds";
  d["datasets"] = {{"Three", {{"config", kBase}}}};
  EXPECT_EQ(parse_sweep(d, "s.json").domainbed->datasets[0].num_domains, 3);
  d["datasets"]["Three"]["num_domains"] = 4;
  expect_error(d, "datasets.Three.num_domains", "has 3");
  d["set"].erase("data.source.path");
  d["datasets"]["Three"].erase("num_domains");
  expect_error(d, "datasets.Three", "unknown number of domains");
}

TEST(DgSweep, ErrorsNameTheKeyAndTheFix) {
  auto d = doc();
  d["algorithms"] = {"erm", "irm"};
  expect_error(d, "s.json: algorithms", "unknown algorithm 'irm'");
  d = doc();
  d["test_domains"] = json::array({json::array({0}), json::array({1, 5})});
  expect_error(d, "test_domains", "test domain 5 is out of range for PACSlike (4 domains)");
  d = doc();
  d["datasets"]["Two"] = {{"config", kBase}, {"num_domains", 2}};
  d["test_domains"] = "single_and_pairs";
  expect_error(d, "test_domains", "at least 3 domains");
  d = doc();
  d["n_hparams"] = 0;
  expect_error(d, "n_hparams", ">= 1");
  d = doc();
  d["n_trials"] = -1;
  expect_error(d, "n_trials", ">= 1");
  d = doc();
  d["set"]["train.seed"] = 3;
  expect_error(d, "set.train.seed", "chooses train.seed");
  d = doc();
  d["grid"] = json::object();
  expect_error(d, "s.json", "unknown key 'grid'");
  d = doc();
  d["protocol"] = "wilds";
  expect_error(d, "protocol", "unknown protocol");
  d = doc();
  d["datasets"]["Rotated-FMNIST"] = {{"config", kBase}, {"num_domains", 2}};
  expect_error(d, "datasets.Rotated-FMNIST", "identifier");
  d = doc();
  d["datasets"]["PACSlike"]["config"] = "/nonexistent.json";
  expect_error(d, "datasets.PACSlike.config", "not found");
}
