// `uda eval`, `uda infer` and `uda export`: offline use of uda checkpoints
// and official .pth files (worker/inference.h).
#include "comm/communicator.h"
#include "comm/mpi_runtime.h"
#include "comm/rank_env.h"
#include "core/config.h"
#include "core/error.h"
#include "launcher/commands.h"
#include "launcher/subprocess.h"
#include "launcher/local_executor.h"
#include "storage/pth_writer.h"
#include "worker/inference.h"

#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace uda::cli {

namespace {

// Domain generalization: every domain's in and out split accuracy.
void print_domain_table(const nlohmann::json& j) {
  const auto tests = j.value("test_domains", std::vector<int>{});
  std::printf("%-4s %-16s %-6s %8s %8s\n", "id", "domain", "role", "in acc", "out acc");
  for (size_t d = 0; d < j["domains"].size(); ++d) {
    auto pct = [&](const std::string& key) { return j[key].is_number() ? 100 * j[key].get<double>() : NAN; };
    const bool test = std::find(tests.begin(), tests.end(), static_cast<int>(d)) != tests.end();
    std::printf("%-4zu %-16s %-6s %8.2f %8.2f\n", d, j["domains"][d].get<std::string>().c_str(), test ? "test" : "train",
                pct("env" + std::to_string(d) + "_in_acc"), pct("env" + std::to_string(d) + "_out_acc"));
  }
  auto pct = [&](const char* key) { return j[key].is_number() ? 100 * j[key].get<double>() : NAN; };
  std::printf("training-domain validation %.2f  test-domain accuracy %.2f\n", pct("train_domain_val_acc"),
              pct("test_domain_acc"));
}

void print_table(const nlohmann::json& j) {
  std::printf("%-4s %-18s %8s\n", "id", "class", "IoU");
  for (size_t c = 0; c < j["classes"].size(); ++c) {
    const auto& v = j["per_class_iou"][c];
    if (v.is_null()) std::printf("%-4zu %-18s %8s\n", c, j["classes"][c].get<std::string>().c_str(), "-");
    else std::printf("%-4zu %-18s %8.2f\n", c, j["classes"][c].get<std::string>().c_str(), 100 * v.get<double>());
  }
  std::printf("mIoU %.2f  accuracy %.2f  (classes absent from labels and predictions: -)\n",
              j["miou"].is_null() ? NAN : 100 * j["miou"].get<double>(),
              j["accuracy"].is_null() ? NAN : 100 * j["accuracy"].get<double>());
}

}  // namespace

void add_eval_command(CLI::App& app) {
  static std::string cfg_path, weights, dataset, which = "student";
  static std::vector<std::string> sets;
  static int nproc = 1;
  static bool as_json = false;
  auto* sub = app.add_subcommand("eval", "Evaluate weights (mIoU, per-class IoU, accuracy) on a converted dataset");
  sub->add_option("--config", cfg_path, "Config of the model and data")->required();
  sub->add_option("--weights", weights, "Checkpoint dir, run dir (its latest) or official .pth")->required();
  sub->add_option("--dataset", dataset, "Converted dataset (default data.val.path)");
  sub->add_option("--which", which, "student or teacher (EMA)")->check(CLI::IsMember({"student", "teacher"}));
  sub->add_option("--set", sets, "Override a config key");
  sub->add_option("--nproc", nproc, "Ranks to evaluate with")->check(CLI::Range(1, 1024));
  sub->add_flag("--json", as_json, "Print one JSON object");
  sub->callback([] {
    auto cfg = config::load(cfg_path, sets);
    if (nproc > 1 && !comm::launched_as_rank()) {
      LocalLaunch l;
      l.nproc = nproc;
      l.worker_argv = {self_exe(), "--log-level", global_options().log_level, "eval", "--config", cfg_path,
                       "--weights", weights, "--which", which};
      if (!dataset.empty()) l.worker_argv.insert(l.worker_argv.end(), {"--dataset", dataset});
      for (const auto& s : sets) l.worker_argv.insert(l.worker_argv.end(), {"--set", s});
      if (as_json) l.worker_argv.push_back("--json");
      throw CommandExit{run_local(l)};
    }
    torch::set_num_threads(1);
    auto comm = comm::make_communicator(comm::Backend::Mpi);
    auto j = worker::evaluate_weights(cfg, weights, which, dataset, *comm);
    if (comm->rank() != 0) return;
    if (as_json) std::cout << j.dump() << "\n";
    else if (j.contains("domains")) print_domain_table(j);
    else print_table(j);
  });
}

void add_infer_command(CLI::App& app) {
  static std::string cfg_path, weights;
  static std::vector<std::string> sets;
  static worker::InferOptions o;
  static std::string mode;
  auto* sub = app.add_subcommand("infer", "Predict segmentation masks (Cityscapes palette PNGs, optional logits)");
  sub->add_option("--config", cfg_path, "Config of the model")->required();
  sub->add_option("--weights", weights, "Checkpoint dir, run dir (its latest) or official .pth")->required();
  auto* in = sub->add_option("--images", o.images_dir, "Directory of .png/.jpg images");
  auto* h5 = sub->add_option("--input", o.input_h5, "HDF5 file with dataset images (N,3,H,W), normalised");
  in->excludes(h5);
  sub->add_option("--out", o.out_dir, "Output directory")->required();
  sub->add_option("--which", o.which, "student or teacher")->check(CLI::IsMember({"student", "teacher"}));
  sub->add_option("--mode", mode, "whole or slide (model.test.mode)")->check(CLI::IsMember({"whole", "slide"}));
  sub->add_option("--set", sets, "Override a config key");
  sub->add_flag("--save-logits", o.save_logits, "Also write raw logits to <out>/logits.h5");
  sub->callback([] {
    if (o.images_dir.empty() && o.input_h5.empty())
      throw UserError("nothing to predict", "command line", "give --images DIR or --input FILE.h5");
    auto all = sets;
    if (!mode.empty()) all.push_back("model.test.mode=" + mode);
    auto cfg = config::load(cfg_path, all);
    const int n = worker::infer(cfg, weights, o);
    std::cerr << "uda: wrote " << n << " mask(s) to " << o.out_dir << "\n";
  });
}

void add_export_command(CLI::App& app) {
  static std::string weights, out, which = "student";
  auto* sub = app.add_subcommand("export", "Export a network as a PyTorch state dict (torch.load reads it)");
  sub->add_option("--checkpoint", weights, "Checkpoint dir or run dir (its latest)")->required();
  sub->add_option("--out", out, "Output .pth file")->required();
  sub->add_option("--which", which, "student or teacher")->check(CLI::IsMember({"student", "teacher"}));
  sub->callback([] {
    auto sd = worker::export_network(weights, which);
    storage::write_pth(out, sd);
    std::cerr << "uda: wrote " << sd.size() << " tensors to " << out << "\n";
  });
}

}  // namespace uda::cli
