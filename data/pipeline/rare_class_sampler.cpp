#include "data/pipeline/rare_class_sampler.h"

#include "core/error.h"
#include "data/pipeline/rng.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

namespace uda::data::pipeline {

RareClassTable RareClassTable::build(const std::vector<std::vector<int64_t>>& per_image,
                                     double temperature, int64_t min_pixels) {
  if (!(temperature > 0))
    throw UserError("RCS temperature must be > 0, got " + std::to_string(temperature),
                    "data.source.rcs.temperature", "use e.g. 0.01 (DAFormer)");
  // Total count per class, and the order in which classes first appear
  // (the insertion order of the official dict).
  std::vector<int64_t> total;
  std::vector<int> first_seen;
  for (const auto& row : per_image) {
    if (row.size() > total.size()) total.resize(row.size(), 0);
    for (size_t c = 0; c < row.size(); ++c) {
      if (row[c] <= 0) continue;
      if (total[c] == 0) first_seen.push_back(static_cast<int>(c));
      total[c] += row[c];
    }
  }
  RareClassTable t;
  t.classes = first_seen;
  std::stable_sort(t.classes.begin(), t.classes.end(),
                   [&](int a, int b) { return total[a] < total[b]; });
  if (t.classes.empty())
    throw UserError("RCS: no class has any labelled pixel", "data.source", "check the dataset's class statistics");

  // float32 as in the official torch code: freq = count / sum, 1 - freq,
  // divided by T, softmax.
  int64_t sum = 0;
  for (int c : t.classes) sum += total[c];
  const float T = static_cast<float>(temperature);
  std::vector<float> logits;
  for (int c : t.classes) {
    const float freq = static_cast<float>(total[c]) / static_cast<float>(sum);
    logits.push_back((1.0f - freq) / T);
  }
  const float mx = *std::max_element(logits.begin(), logits.end());
  float z = 0.f;
  for (float& l : logits) {
    l = std::exp(l - mx);
    z += l;
  }
  for (float l : logits) t.probs.push_back(l / z);
  double acc = 0;
  for (float p : t.probs) t.cdf.push_back(acc += p);
  for (double& v : t.cdf) v /= acc;

  for (int c : t.classes) {
    std::vector<int64_t> imgs;
    for (size_t i = 0; i < per_image.size(); ++i)
      if (static_cast<size_t>(c) < per_image[i].size() && per_image[i][c] > min_pixels)
        imgs.push_back(static_cast<int64_t>(i));
    if (imgs.empty())
      throw UserError("RCS: class " + std::to_string(c) + " occurs but no image has more than " +
                          std::to_string(min_pixels) + " pixels of it",
                      "data.source.rcs.min_pixels", "lower min_pixels");
    t.images.push_back(std::move(imgs));
  }
  return t;
}

size_t RareClassTable::pick(double u) const {
  // searchsorted(cdf, u, side='right'), as numpy's RandomState.choice.
  auto it = std::upper_bound(cdf.begin(), cdf.end(), u);
  return std::min(static_cast<size_t>(it - cdf.begin()), cdf.size() - 1);
}

RareClassSampler::RareClassSampler(RareClassTable table, uint64_t seed)
    : table_(std::move(table)), seed_(seed) {}

SampleRef RareClassSampler::draw(const DrawRequest& r) {
  constexpr uint64_t kSalt = 0x726373ULL;  // "rcs"
  Rng rng(derive_key(seed_, kSalt, static_cast<uint64_t>(r.step), static_cast<uint64_t>(r.slot)));
  const size_t k = table_.pick(rng.uniform());
  const auto& imgs = table_.images[k];
  return {imgs[rng.below(imgs.size())], table_.classes[k]};
}

}  // namespace uda::data::pipeline
