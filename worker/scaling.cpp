#include "worker/scaling.h"

#include "core/config.h"
#include "core/error.h"

#include <cmath>

namespace uda::worker {

namespace {
nlohmann::json::json_pointer ptr(const std::string& dotted) {
  std::string p;
  for (char c : dotted) p += c == '.' ? '/' : c;
  return nlohmann::json::json_pointer("/" + p);
}
}  // namespace

std::vector<ScaleChange> apply_scale_rule(config::Config& cfg, int world_size) {
  const std::string rule = cfg.get<std::string>("runtime.scale_rule");
  if (rule == "none") return {};
  const int64_t per_rank = cfg.get<int64_t>("data.batch_per_rank");
  int64_t reference = cfg.get<int64_t>("runtime.reference_batch");
  if (reference <= 0) reference = per_rank;
  const double k = static_cast<double>(per_rank * world_size) / static_cast<double>(reference);
  if (k == 1.0) return {};
  std::vector<ScaleChange> changes;
  auto& j = cfg.mutable_json();
  auto set = [&](const std::string& key, const nlohmann::json& value) {
    changes.push_back({key, j[ptr(key)], value});
    j[ptr(key)] = value;
  };
  const double lr_factor = rule == "linear" ? k : std::sqrt(k);
  set("optimizer.lr", j[ptr("optimizer.lr")].get<double>() * lr_factor);
  if (j.contains("algorithm") && j["algorithm"].is_object()) {
    for (auto it = j["algorithm"].begin(); it != j["algorithm"].end(); ++it) {
      const std::string key = "algorithm." + it.key();
      if (it.value().is_object() && it.value().contains("lr") && it.key().find("optimizer") != std::string::npos)
        set(key + ".lr", it.value()["lr"].get<double>() * lr_factor);
      else if ((it.key() == "ema_alpha" || it.key() == "alpha") && it.value().is_number())
        set(key, std::pow(it.value().get<double>(), k));
    }
  }
  // Same number of samples seen: fewer, larger steps.
  auto scale_iters = [&](const std::string& key, bool at_least_one) {
    const int64_t v = j[ptr(key)].get<int64_t>();
    if (v <= 0) return;
    int64_t scaled = static_cast<int64_t>(std::llround(static_cast<double>(v) / k));
    if (at_least_one) scaled = std::max<int64_t>(scaled, 1);
    set(key, scaled);
  };
  scale_iters("train.max_iters", true);
  scale_iters("schedule.max_iters", false);  // 0 = train.max_iters: stays 0
  scale_iters("schedule.warmup_iters", false);
  scale_iters("train.eval_interval", true);
  scale_iters("train.checkpoint_interval", true);
  scale_iters("train.log_interval", true);
  if (j[ptr("schedule.steps")].is_array() && !j[ptr("schedule.steps")].empty()) {
    nlohmann::json steps = nlohmann::json::array();
    for (auto& s : j[ptr("schedule.steps")]) steps.push_back(std::llround(s.get<double>() / k));
    set("schedule.steps", steps);
  }
  return changes;
}

}  // namespace uda::worker
