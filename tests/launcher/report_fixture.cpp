#include "tests/launcher/report_fixture.h"

#include "data/image_io.h"
#include "tests/support/test_support.h"

#include <nlohmann/json.hpp>

#include <filesystem>

using nlohmann::json;

namespace uda::test {

namespace {

// An 8x8 PNG of one colour.
void write_square(const std::string& path, uint8_t r, uint8_t g, uint8_t b) {
  data::Image img{8, 8, 3, {}};
  for (int i = 0; i < 64; ++i) img.pixels.insert(img.pixels.end(), {r, g, b});
  data::write_png(path, img);
}

void write_lines(const std::string& path, const std::vector<json>& records) {
  std::string text;
  for (const auto& r : records) text += r.dump() + "\n";
  write_text(path, text);
}

}  // namespace

const std::vector<std::string>& report_classes() {
  static const std::vector<std::string> kClasses{"road", "car", "<script>alert(1)</script>", "sky"};
  return kClasses;
}

void write_seg_run(const std::string& dir, bool with_evals) {
  write_text(dir + "/config.json",
             json{{"algorithm", {{"name", "dacs"}}},
                  {"model", {{"backbone", {{"type", "mit_b0"}}}, {"head", {{"type", "daformer"}}}}},
                  {"data", {{"batch_per_rank", 4}}},
                  {"optimizer", {{"type", "adamw"}, {"lr", 6e-4}}},
                  {"train", {{"max_iters", 12}}}}
                 .dump(2));
  std::vector<json> metrics;
  for (int i = 1; i <= 6; ++i)
    metrics.push_back({{"iter", 2 * i},
                       {"loss_seg", 2.0 - 0.25 * i},
                       {"loss_mix", i == 3 ? json(nullptr) : json(0.1 * i)},
                       {"loss_<x>", 0.3},
                       {"step_time", 0.3},
                       // As the trainer names parameter groups.
                       {"lr", {{"model", 6e-4 * (1 - i / 12.0)}, {"model.head", 6e-3 * (1 - i / 12.0)}}}});
  write_lines(dir + "/metrics.jsonl", metrics);
  if (!with_evals) return;
  const auto& classes = report_classes();
  write_lines(dir + "/eval.jsonl",
              {{{"iter", 4}, {"miou", 0.30}, {"accuracy", 0.60}, {"classes", classes},
                {"per_class_iou", {0.5, 0.2, nullptr, 0.2}}, {"eval_seconds", 1.5}},
               {{"iter", 8}, {"miou", 0.50}, {"accuracy", 0.70}, {"classes", classes},
                {"per_class_iou", {0.7, 0.3, nullptr, 0.5}}, {"eval_seconds", 1.5}},
               {{"iter", 12}, {"miou", 0.6543}, {"accuracy", 0.812}, {"classes", classes},
                {"per_class_iou", {0.8, 0.4, nullptr, 0.2}}, {"eval_seconds", 1.5}}});
}

void write_seg_pictures(const std::string& run, int iter, int n) {
  const std::string dir = run + "/report_images/iter_" + std::to_string(iter);
  std::filesystem::create_directories(dir);
  json rows = json::array();
  for (int k = 0; k < n; ++k) {
    const std::string i = std::to_string(k);
    write_square(dir + "/image_" + i + ".png", 90, 90, 90);
    write_square(dir + "/ground_truth_" + i + ".png", 128, 64, 128);
    write_square(dir + "/prediction_" + i + ".png", 244, 35, 232);
    write_square(dir + "/pseudo_label_" + i + ".png", 70, 70, 70);
    rows.push_back({{"image", "image_" + i + ".png"},
                    {"ground_truth", "ground_truth_" + i + ".png"},
                    {"prediction", "prediction_" + i + ".png"},
                    {"pseudo_label", "pseudo_label_" + i + ".png"}});
  }
  write_square(dir + "/grid_samples.png", 0, 0, 142);
  write_text(dir + "/index.json", json{{"iter", iter},
                                       {"classes", report_classes()},
                                       {"palette", {{128, 64, 128}, {244, 35, 232}, {70, 70, 70}, {102, 102, 156}}},
                                       {"segmentation", rows},
                                       {"grids", {{{"name", "samples"}, {"file", "grid_samples.png"}}}}}
                                      .dump());
}

void write_dg_pictures(const std::string& run, int iter) {
  const std::string dir = run + "/report_images/iter_" + std::to_string(iter);
  write_text(dir + "/index.json",
             json{{"iter", iter},
                  {"classes", {"dog", "cat", "horse"}},
                  {"domains", {"art", "photo"}},
                  {"test_domains", {0}},
                  {"confusion",
                   {{{"set", "env0_in"}, {"counts", {{50, 3, 1}, {4, 40, 2}, {0, 7, 33}}}},
                    {{"set", "env1_out"}, {"counts", {{9, 1, 0}, {0, 10, 0}, {1, 0, 9}}}}}}}
                 .dump());
}

void write_lr_sweep(const std::string& dir) {
  write_text(dir + "/sweep.json", json{{"name", "lr-search"}, {"base", "configs/x.json"}}.dump());
  int k = 0;
  for (double lr : {1e-3, 1e-4})
    for (int seed : {1, 2}) {
      const std::string run = dir + "/run" + std::to_string(k++);
      write_text(run + "/config.json",
                 json{{"algorithm", {{"name", "dacs"}}},
                      {"optimizer", {{"lr", lr}}},
                      {"train", {{"seed", seed}, {"max_iters", 100}}}}
                     .dump());
      write_text(run + "/sweep_overrides.json",
                 json{{"base", "configs/x.json"},
                      {"overrides", {{"optimizer.lr", lr}, {"train.seed", seed}}},
                      {"hparams", {{"optimizer.lr", lr}}},
                      {"seed", seed}}
                     .dump());
      std::vector<json> metrics, evals;
      for (int i = 10; i <= 100; i += 10) metrics.push_back({{"iter", i}, {"loss_seg", 1.0 / (1 + lr * 1e3 * i)}});
      for (int i : {50, 100}) evals.push_back({{"iter", i}, {"miou", 0.3 + lr * 100 + seed / 100.0 + i / 1000.0}});
      write_lines(run + "/metrics.jsonl", metrics);
      write_lines(run + "/eval.jsonl", evals);
      if (k < 4) write_text(run + "/DONE", "100\n");
    }
}

}  // namespace uda::test
