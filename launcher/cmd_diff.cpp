// `uda diff A B`: how far apart two checkpoints are, tensor by tensor (the
// check behind the world-size promise and exact resume, docs/SCALING.md).
#include "launcher/commands.h"
#include "storage/checkpoint_diff.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

namespace uda::cli {

void add_diff_command(CLI::App& app) {
  static std::string a, b;
  static bool as_json = false;
  static size_t top = 10;
  auto* sub = app.add_subcommand(
      "diff", "Compare the replicated state (weights, optimizer moments, buffers) of two checkpoints or runs");
  sub->add_option("a", a, "Checkpoint directory or run directory (its latest checkpoint)")->required();
  sub->add_option("b", b, "The reference: relative differences are max|a - b| / max|b| per tensor")->required();
  sub->add_flag("--json", as_json, "Every tensor as JSON");
  sub->add_option("--top", top, "Tensors to list, largest difference first")->default_val(10);
  sub->callback([] {
    const auto ca = storage::load_checkpoint_or_run(a), cb = storage::load_checkpoint_or_run(b);
    const auto diffs = storage::compare_checkpoints(ca, cb);
    if (as_json) {
      nlohmann::json j;
      j["a"] = ca.path, j["b"] = cb.path;
      j["max_relative"] = diffs.empty() ? 0.0 : diffs.front().relative;
      j["relative_l2"] = storage::overall_relative_l2(diffs);
      for (const auto& d : diffs) {
        nlohmann::json t{{"name", d.name}, {"relative", d.relative}, {"absolute", d.absolute}};
        if (!d.note.empty()) t["note"] = d.note;
        j["tensors"].push_back(t);
      }
      std::cout << j.dump(1) << "\n";
      return;
    }
    std::cout << "a: " << ca.path << " (iteration " << ca.iteration() << ", " << ca.manifest.world_size
              << " ranks)\nb: " << cb.path << " (iteration " << cb.iteration() << ", " << cb.manifest.world_size
              << " ranks)\n";
    for (size_t i = 0; i < diffs.size() && i < top; ++i) {
      char line[64];
      std::snprintf(line, sizeof line, "%12.3e %12.3e  ", diffs[i].relative, diffs[i].absolute);
      std::cout << line << diffs[i].name << (diffs[i].note.empty() ? "" : "  (" + diffs[i].note + ")") << "\n";
    }
    std::cout << "largest relative difference " << (diffs.empty() ? 0.0 : diffs.front().relative) << " over "
              << diffs.size() << " tensors; relative L2 difference of the whole state "
              << storage::overall_relative_l2(diffs) << "\n";
  });
}

}  // namespace uda::cli
