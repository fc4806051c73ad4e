#include "data/pipeline/domain_split.h"

#include "core/error.h"
#include "core/numpy_random.h"
#include "data/pipeline/sampler.h"

#include <algorithm>

namespace uda::data::pipeline {

namespace {

int domain_index(const nlohmann::json& v, const std::vector<std::string>& names, const std::string& where) {
  std::string listed;
  for (size_t i = 0; i < names.size(); ++i) listed += (i ? ", " : "") + std::to_string(i) + " = " + names[i];
  if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    if (i >= 0 && i < static_cast<int64_t>(names.size())) return static_cast<int>(i);
    throw UserError("test domain " + std::to_string(i) + " does not exist", where, "the dataset's domains are " + listed);
  }
  if (v.is_string()) {
    auto it = std::find(names.begin(), names.end(), v.get<std::string>());
    if (it != names.end()) return static_cast<int>(it - names.begin());
    throw UserError("unknown test domain '" + v.get<std::string>() + "'", where, "the dataset's domains are " + listed);
  }
  throw UserError("test domains are indices or names", where, "e.g. [0] or [\"sketch\"]");
}
}  // namespace

std::vector<int> DomainSplit::training_domains() const {
  std::vector<int> out;
  for (size_t d = 0; d < is_test.size(); ++d)
    if (!is_test[d]) out.push_back(static_cast<int>(d));
  return out;
}

std::vector<int> DomainSplit::test_domains() const {
  std::vector<int> out;
  for (size_t d = 0; d < is_test.size(); ++d)
    if (is_test[d]) out.push_back(static_cast<int>(d));
  return out;
}

DomainSplit split_domains(const config::Config& cfg, const ClassStats& stats, const std::string& dataset_path) {
  namespace nr = numpy_random;
  if (stats.domain_names.size() < 2 || stats.image_domain.empty())
    throw UserError("the dataset has no domains (" + std::to_string(stats.domain_names.size()) + " domain)",
                    dataset_path + " (data.source.path)",
                    "convert a multi-domain dataset (e.g. uda convert --format idx --domains rotated) for a "
                    "domain-generalization config");
  const double fraction = cfg.get<double>("data.holdout_fraction");
  if (!(fraction >= 0.0 && fraction < 1.0))
    throw UserError("data.holdout_fraction must be in [0, 1)", cfg.origin("data.holdout_fraction"),
                    "DomainBed uses 0.2");
  const int64_t seed = cfg.get<int64_t>("data.split_seed");
  DomainSplit s;
  s.names = stats.domain_names;
  s.is_test.assign(s.names.size(), false);
  for (const auto& v : cfg.at("data.test_domains"))
    s.is_test[static_cast<size_t>(domain_index(v, s.names, cfg.origin("data.test_domains")))] = true;
  if (s.training_domains().empty())
    throw UserError("every domain is a test domain", cfg.origin("data.test_domains"),
                    "leave at least one domain to train on");
  for (size_t d = 0; d < s.names.size(); ++d) {
    const auto members = indices_of_domain(stats.image_domain, static_cast<int>(d));
    const auto n = static_cast<int64_t>(members.size());
    // [misc.split_dataset] keys shuffled by RandomState(seed_hash(trial_seed, i)).
    auto [out_keys, in_keys] = nr::split_keys(
        n, static_cast<int64_t>(static_cast<double>(n) * fraction),
        nr::seed_hash({seed, static_cast<int64_t>(d)}));
    std::vector<int64_t> in, out;
    for (auto k : in_keys) in.push_back(members[static_cast<size_t>(k)]);
    for (auto k : out_keys) out.push_back(members[static_cast<size_t>(k)]);
    if (!s.is_test[d] && in.empty())
      throw UserError("training domain '" + s.names[d] + "' has no sample in its in split",
                      dataset_path + " (data.source.path)", "lower data.holdout_fraction or hold the domain out");
    s.in.push_back(std::move(in));
    s.out.push_back(std::move(out));
  }
  return s;
}

}  // namespace uda::data::pipeline
