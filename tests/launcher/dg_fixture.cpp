#include "tests/launcher/dg_fixture.h"

#include "tests/support/test_support.h"

#include <nlohmann/json.hpp>

#include <filesystem>

using nlohmann::json;

namespace uda::test {

void write_dg_run(const std::string& dir, const FakeDgRun& r) {
  std::filesystem::create_directories(dir);
  write_text(dir + "/config.json",
             json{{"algorithm", {{"name", r.algorithm}}},
                  {"data",
                   {{"source", {{"path", "/data/" + r.dataset}}},
                    {"test_domains", r.test_envs},
                    {"split_seed", r.trial_seed},
                    {"holdout_fraction", 0.2},
                    {"batch_per_rank", r.batch_per_rank}}},
                  {"train",
                   {{"hparams_seed", r.hparams_seed},
                    {"seed", 1},
                    {"max_iters", r.max_iters},
                    {"eval_interval", r.eval_interval}}}}
                 .dump());
  write_text(dir + "/sweep_overrides.json", json{{"domainbed", {{"dataset", r.dataset}}}}.dump());
  std::string evals, metrics;
  json last;
  for (const auto& e : r.evals) {
    json j{{"iter", e.step}, {"eval_seconds", r.eval_seconds}};
    for (size_t i = 0; i < e.in.size(); ++i) {
      j["env" + std::to_string(i) + "_in_acc"] = e.in[i];
      j["env" + std::to_string(i) + "_out_acc"] = e.out[i];
    }
    if (!r.domains.empty()) j["domains"] = r.domains;
    evals += j.dump() + "\n";
    last = j;
  }
  for (int i = 1; i <= 3; ++i) metrics += json{{"iter", i}, {"step_time", r.step_time}, {"loss", 1.0}}.dump() + "\n";
  write_text(dir + "/eval.jsonl", evals);
  write_text(dir + "/metrics.jsonl", metrics);
  if (!r.done) return;
  write_text(dir + "/final_eval.json", last.dump());
  write_text(dir + "/DONE", std::to_string(r.max_iters) + "\n");
}

}  // namespace uda::test
