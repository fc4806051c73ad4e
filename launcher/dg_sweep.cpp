#include "core/numpy_random.h"
#include "launcher/dg_sweep.h"

#include "core/config.h"
#include "core/error.h"
#include "data/manifest.h"
#include "launcher/sweep_spec.h"

#include <algorithm>
#include <filesystem>
#include <set>

namespace fs = std::filesystem;
using nlohmann::json;

namespace uda::cli {

namespace {

const char* kFix = "see the domainbed protocol in docs/CLI.md";

void require(bool ok, const std::string& what, const std::string& where, const std::string& fix = kFix) {
  if (!ok) throw UserError(what, where, fix);
}

// The domain count from the converted dataset's manifest (at the run's
// data.source.path) and/or "num_domains"; they must agree when both exist.
int domain_count(const json& entry, const std::string& config, const json& set, const std::string& where) {
  json source = set.value("data.source.path", json());
  if (source.is_null())
    source = config::load_merged(config, nullptr).value(json::json_pointer("/data/source/path"), json());
  int from_manifest = 0;
  if (source.is_string() && fs::exists(fs::path(source.get<std::string>()) / data::kManifestFile))
    from_manifest = static_cast<int>(data::load_manifest(source.get<std::string>()).domain_names.size());
  const json given = entry.value("num_domains", json());
  require(given.is_null() || given.is_number_integer(), "num_domains must be an integer", where + ".num_domains");
  if (given.is_null()) {
    require(from_manifest > 0, "unknown number of domains: no converted dataset at data.source.path", where,
            "convert the dataset first (`uda convert`) or give \"num_domains\"");
    return from_manifest;
  }
  require(from_manifest == 0 || from_manifest == given.get<int>(),
          "num_domains " + given.dump() + " but the dataset at " + source.get<std::string>() + " has " +
              std::to_string(from_manifest),
          where + ".num_domains", "drop num_domains (the manifest is read) or correct it");
  return given.get<int>();
}

DgDataset parse_dataset(const std::string& name, const json& entry, const json& set, const std::string& file) {
  const std::string where = file + ": datasets." + name;
  require(numpy_random::is_identifier(name),
          "a dataset name must be an identifier (letters, digits, _): DomainBed seeds jobs with it", where);
  require(entry.is_object(), "a dataset entry must be an object", where,
          R"(use {"config": "configs/dg/x.json", "small_images": true, "num_domains": 6})");
  for (const auto& [k, v] : entry.items())
    require(k == "config" || k == "small_images" || k == "num_domains", "unknown key '" + k + "'", where,
            "use config, small_images, num_domains");
  require(entry.contains("config") && entry["config"].is_string(), "missing \"config\" (the dataset's base config)",
          where);
  DgDataset d;
  d.name = name;
  d.config = resolve_sweep_path(entry["config"].get<std::string>(), file, where + ".config");
  const json small = entry.value("small_images", json(domainbed_small_images(name)));
  require(small.is_boolean(), "small_images must be true or false", where + ".small_images");
  d.small_images = small.get<bool>();
  d.num_domains = domain_count(entry, d.config, set, where);
  require(d.num_domains >= 2, "a domain generalization dataset needs at least 2 domains", where);
  return d;
}

std::vector<std::string> parse_algorithms(const json& doc, const std::string& file) {
  const std::string where = file + ": algorithms";
  require(doc.contains("algorithms") && doc["algorithms"].is_array() && !doc["algorithms"].empty(),
          "\"algorithms\" must be a non-empty list of algorithm names", where);
  std::vector<std::string> out;
  for (const auto& a : doc["algorithms"]) {
    require(a.is_string(), "\"algorithms\" must be a list of names", where);
    const std::string name = a.get<std::string>();
    require(find_dg_algorithm(name) != nullptr,
            "unknown algorithm '" + name + "' (the DomainBed hyper-parameter registry has no entry)", where,
            "use one of: " + dg_algorithm_names());
    require(std::find(out.begin(), out.end(), name) == out.end(), "algorithm '" + name + "' listed twice", where);
    out.push_back(name);
  }
  return out;
}

int positive(const json& doc, const std::string& key, int def, const std::string& file) {
  const json v = doc.value(key, json(def));
  require(v.is_number_integer() && v.get<int64_t>() >= 1, "\"" + key + "\" must be an integer >= 1", file + ": " + key);
  return v.get<int>();
}

void check_test_domain_list(const json& sets, const DgDataset& d, const std::string& where) {
  for (const auto& s : sets) {
    require(s.is_array() && !s.empty(), "each entry must be a non-empty list of domain indices", where);
    std::set<int64_t> seen;
    for (const auto& i : s) {
      require(i.is_number_integer() && i.get<int64_t>() >= 0 && i.get<int64_t>() < d.num_domains,
              "test domain " + i.dump() + " is out of range for " + d.name + " (" + std::to_string(d.num_domains) +
                  " domains)",
              where, "use indices 0.." + std::to_string(d.num_domains - 1));
      require(seen.insert(i.get<int64_t>()).second, "test domain " + i.dump() + " listed twice in " + s.dump(), where);
    }
    require(static_cast<int>(seen.size()) < d.num_domains, "test domains " + s.dump() + " leave no training domain",
            where);
  }
}

void check_test_domains(const json& td, const DgDataset& d, const std::string& file) {
  const std::string where = file + ": test_domains";
  if (td.is_array()) return check_test_domain_list(td, d, where);
  require(td == "single" || td == "single_and_pairs", "test_domains must be \"single\", \"single_and_pairs\" or a list",
          where, R"(use "single", "single_and_pairs" or [[0], [1], [0, 1]])");
  require(td == "single" || d.num_domains >= 3,
          "pairs of test domains need at least 3 domains (DomainBed's all_test_env_combinations, sweep.py:92), and " +
              d.name + " has " + std::to_string(d.num_domains),
          where, "use \"single\" for this dataset");
}

void check_set(const json& doc, const std::string& file) {
  static const char* kOwned[] = {"algorithm.name", "data.test_domains", "data.split_seed", "train.hparams_seed",
                                 "train.seed"};
  for (const char* k : kOwned)
    require(!doc.contains("set") || !doc["set"].contains(k), "the domainbed protocol chooses " + std::string(k) +
                                                                  " for every job",
            file + ": set." + k, "remove it from \"set\"");
}

// DomainBed's name of a hyper-parameter -> uda's config key; "" when uda's
// network has no such parameter (resnet_dropout: MNIST_CNN has no dropout,
// networks.py:165-208; the ResNet applies it to its features, :147-149).
std::string uda_key(const std::string& name, bool small_images) {
  if (name == "lr") return "optimizer.lr";
  if (name == "weight_decay") return "optimizer.weight_decay";
  if (name == "batch_size") return "data.batch_per_rank";
  if (name == "resnet_dropout") return small_images ? "" : "model.dropout";
  return "algorithm." + name;
}

json uda_value(const std::string& name, const json& v, int nproc) {
  if (name != "batch_size") return v;
  return std::max<int64_t>(1, (v.get<int64_t>() + nproc / 2) / nproc);
}

}  // namespace

DgSweep parse_dg_sweep(const json& doc, const std::string& file) {
  DgSweep s;
  check_set(doc, file);
  s.algorithms = parse_algorithms(doc, file);
  require(doc.contains("datasets") && doc["datasets"].is_object() && !doc["datasets"].empty(),
          "\"datasets\" must be a non-empty object: name -> {config, small_images, num_domains}", file + ": datasets");
  const json set = doc.value("set", json::object());
  for (const auto& [name, entry] : doc["datasets"].items()) s.datasets.push_back(parse_dataset(name, entry, set, file));
  s.n_hparams = positive(doc, "n_hparams", s.n_hparams, file);
  s.n_trials = positive(doc, "n_trials", s.n_trials, file);
  s.test_domains = doc.value("test_domains", s.test_domains);
  for (const auto& d : s.datasets) check_test_domains(s.test_domains, d, file);
  return s;
}

std::vector<std::vector<int64_t>> dg_test_env_sets(const DgSweep& sweep, const DgDataset& dataset) {
  if (sweep.test_domains.is_array()) return sweep.test_domains.get<std::vector<std::vector<int64_t>>>();
  std::vector<std::vector<int64_t>> out;
  for (int64_t i = 0; i < dataset.num_domains; ++i) {
    out.push_back({i});
    if (sweep.test_domains != "single_and_pairs") continue;
    for (int64_t j = i + 1; j < dataset.num_domains; ++j) out.push_back({i, j});
  }
  return out;
}

std::vector<DgJob> dg_jobs(const DgSweep& sweep) {
  std::vector<DgJob> out;
  for (int64_t trial = 0; trial < sweep.n_trials; ++trial)
    for (const auto& d : sweep.datasets)
      for (const auto& name : sweep.algorithms)
        for (const auto& envs : dg_test_env_sets(sweep, d))
          for (int64_t h = 0; h < sweep.n_hparams; ++h) {
            DgJob j{&d, find_dg_algorithm(name), envs, h, trial, 0};
            j.seed = numpy_random::seed_hash({d.name, j.algorithm->domainbed_name, envs, h, trial});  // sweep.py:121-122
            out.push_back(std::move(j));
          }
  return out;
}

SweepPoint dg_point(const DgJob& job, const json& set, int nproc) {
  SweepPoint p;
  p.base = job.dataset->config;
  p.overrides = {{"algorithm.name", job.algorithm->uda_name},
                 {"data.test_domains", job.test_envs},
                 {"data.split_seed", job.trial_seed},
                 {"train.hparams_seed", job.hparams_seed}};
  json domainbed_hparams = json::object();
  for (const auto& h : dg_hparams(*job.algorithm, job.dataset->name, job.dataset->small_images, job.hparams_seed,
                                  job.trial_seed)) {
    domainbed_hparams[h.name] = h.value;
    const std::string key = uda_key(h.name, job.dataset->small_images);
    if (!key.empty()) p.overrides.emplace_back(key, uda_value(h.name, h.value, nproc));
  }
  for (const auto& [k, v] : p.overrides)
    if (!set.contains(k)) p.hparams[k] = v;
  for (const auto& [k, v] : set.items()) p.overrides.emplace_back(k, v);
  p.seed = job.seed;
  p.overrides.emplace_back("train.seed", p.seed);
  p.domainbed = {{"dataset", job.dataset->name},         {"algorithm", job.algorithm->domainbed_name},
                 {"test_envs", job.test_envs},           {"hparams_seed", job.hparams_seed},
                 {"trial_seed", job.trial_seed},         {"seed", job.seed},
                 {"hparams", domainbed_hparams}};
  return p;
}

}  // namespace uda::cli
