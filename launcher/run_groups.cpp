#include "launcher/run_groups.h"

#include "launcher/dg_runs.h"
#include "launcher/html.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

namespace uda::cli {

namespace {

const std::set<std::string> kSeedKeys = {"train.seed", "data.split_seed"};
const std::set<std::string> kDgGroupKeys = {"algorithm.name", "data.source.path", "data.test_domains",
                                            "train.hparams_seed"};

nlohmann::json value_of(const RunRecord& run, const std::string& key) {
  auto it = run.config.find(key);
  return it == run.config.end() ? nlohmann::json() : it->second;
}

bool varies(const std::vector<RunRecord>& runs, const std::string& key) {
  std::set<std::string> seen;
  for (const auto& run : runs) seen.insert(value_of(run, key).dump());
  return seen.size() > 1;
}

// The seeds and: DomainBed's job identity, or the sweep's hyper-parameters,
// or every key of the runs' configs.
std::set<std::string> candidate_keys(const std::vector<RunRecord>& runs, bool dg) {
  std::set<std::string> keys(kSeedKeys);
  if (dg) {
    keys.insert(kDgGroupKeys.begin(), kDgGroupKeys.end());
    return keys;
  }
  const bool swept = std::all_of(runs.begin(), runs.end(), [](const RunRecord& r) {
    return r.sweep.is_object() && r.sweep.contains("hparams") && r.sweep["hparams"].is_object();
  });
  for (const auto& run : runs) {
    if (swept)
      for (const auto& [k, v] : run.sweep["hparams"].items()) keys.insert(k);
    else
      for (const auto& [k, v] : run.config) keys.insert(k);
  }
  return keys;
}

std::string text_of(const nlohmann::json& values) {
  std::string out;
  for (const auto& [k, v] : values.items()) out += (out.empty() ? "" : " ") + k + "=" + json_text(v);
  return out;
}

}  // namespace

RunLabels label_runs(const std::vector<RunRecord>& runs) {
  RunLabels out;
  const bool dg = !runs.empty() && std::all_of(runs.begin(), runs.end(), is_dg_run);
  for (const auto& k : candidate_keys(runs, dg))
    if (varies(runs, k)) (kSeedKeys.count(k) ? out.seed_keys : out.group_keys).push_back(k);
  std::map<std::string, size_t> groups, members;
  for (const auto& run : runs) {
    RunLabel l;
    for (const auto& k : out.group_keys) l.group[k] = value_of(run, k);
    for (const auto& k : out.seed_keys) l.seed[k] = value_of(run, k);
    const std::string key = l.group.dump();
    l.group_index = groups.emplace(key, groups.size()).first->second;
    l.member = members[key]++;
    l.text = text_of(l.group);
    if (!l.seed.empty()) l.text += (l.text.empty() ? "" : " ") + text_of(l.seed);
    if (l.text.empty()) l.text = std::filesystem::path(run.dir).filename().string();
    out.runs.push_back(std::move(l));
  }
  return out;
}

}  // namespace uda::cli
