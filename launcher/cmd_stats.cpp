// `uda stats DATASET`: the class statistics stored with a converted dataset.
#include "data/class_stats_io.h"
#include "data/dataset.h"
#include "data/rcs.h"
#include "launcher/commands.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

namespace uda::cli {

void add_stats_command(CLI::App& app) {
  static std::string dir, export_dir;
  static double temperature = 0.01;
  static int64_t min_pixels = 3000;
  static bool as_json = false, verify = false;
  auto* cmd = app.add_subcommand("stats", "Print the class statistics of a converted dataset");
  cmd->add_option("dataset", dir, "Converted dataset directory")->required();
  // Defaults of DAFormer's RCS (rare_class_sampling: class_temp 0.01, min_pixels 3000).
  cmd->add_option("--rcs-temp", temperature, "RCS temperature T")->default_val(0.01)->check(CLI::PositiveNumber);
  cmd->add_option("--min-pixels", min_pixels, "Count images with more than N pixels of a class")->default_val(3000);
  cmd->add_flag("--json", as_json, "One JSON object with arrays indexed by class");
  cmd->add_flag("--verify", verify, "Also verify every shard's checksum");
  cmd->add_option("--export-daformer", export_dir,
                  "Write DAFormer's sample_class_stats.json and samples_with_class.json into this directory");
  cmd->callback([] {
    auto ds = data::Dataset::open(dir);
    if (verify) ds->verify_all();
    const auto& st = ds->class_stats();
    auto pixels = st.class_pixels();
    auto freq = st.class_freq();
    auto with = st.images_with_class(min_pixels);
    auto rcs = data::rcs_class_probs(pixels, temperature);
    if (!export_dir.empty()) data::export_daformer_stats(st, export_dir);
    if (as_json) {
      std::vector<size_t> counts;
      for (const auto& w : with) counts.push_back(w.size());
      nlohmann::json j{{"classes", st.class_names},     {"pixel_count", pixels},
                       {"freq", freq},                  {"images_with_class", counts},
                       {"rcs_prob", rcs},               {"num_images", st.num_images()},
                       {"rcs_temp", temperature},       {"min_pixels", min_pixels},
                       {"domains", st.domain_names},    {"domain_class_pixels", st.domain_class_pixels()}};
      std::cout << j.dump() << "\n";
      return;
    }
    std::printf("%s: %zu images, %zu classes, task %s\n", dir.c_str(), st.num_images(), st.num_classes(),
                data::task_name(ds->task()).c_str());
    std::printf("%-4s %-16s %14s %10s %12s %10s\n", "id", "class", "pixels", "freq",
                ("imgs>" + std::to_string(min_pixels)).c_str(), "rcs_prob");
    for (size_t c = 0; c < st.num_classes(); ++c)
      std::printf("%-4zu %-16s %14lld %10.6f %12zu %10.6f\n", c, st.class_names[c].c_str(),
                  static_cast<long long>(pixels[c]), freq[c], with[c].size(), rcs[c]);
  });
}

}  // namespace uda::cli
