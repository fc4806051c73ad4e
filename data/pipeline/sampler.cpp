#include "data/pipeline/sampler.h"

#include <numeric>

namespace uda::data::pipeline {

nlohmann::json SamplerState::to_json() const { return {{"step", step}, {"position", position}}; }

SamplerState SamplerState::from_json(const nlohmann::json& j) {
  SamplerState s;
  s.step = j.at("step").get<int64_t>();
  s.position = j.at("position").get<int64_t>();
  return s;
}

std::vector<int64_t> all_indices(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), int64_t{0});
  return v;
}

std::vector<int64_t> indices_of_domain(const std::vector<int>& sample_domain, int domain) {
  std::vector<int64_t> v;
  for (size_t i = 0; i < sample_domain.size(); ++i)
    if (sample_domain[i] == domain) v.push_back(static_cast<int64_t>(i));
  return v;
}

}  // namespace uda::data::pipeline
