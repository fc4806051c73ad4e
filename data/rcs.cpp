#include "data/rcs.h"

#include <cmath>
#include <stdexcept>

namespace uda::data {

std::vector<double> rcs_class_probs(const std::vector<int64_t>& class_pixels, double temperature) {
  if (!(temperature > 0)) throw std::invalid_argument("rcs_class_probs: temperature must be > 0");
  std::vector<double> probs(class_pixels.size(), 0.0);
  int64_t total = 0;
  for (auto p : class_pixels) total += p;
  if (total == 0) return probs;
  // float32 throughout, as the official torch code (freq / sum and the
  // softmax are float32 tensor ops there).
  const float t = static_cast<float>(temperature);
  std::vector<float> logits(class_pixels.size(), 0.f);
  float max_logit = -INFINITY;
  for (size_t c = 0; c < class_pixels.size(); ++c) {
    if (class_pixels[c] <= 0) continue;
    float freq = static_cast<float>(class_pixels[c]) / static_cast<float>(total);
    logits[c] = (1.f - freq) / t;
    max_logit = std::max(max_logit, logits[c]);
  }
  float sum = 0.f;
  std::vector<float> e(class_pixels.size(), 0.f);
  for (size_t c = 0; c < class_pixels.size(); ++c) {
    if (class_pixels[c] <= 0) continue;
    e[c] = std::exp(logits[c] - max_logit);
    sum += e[c];
  }
  for (size_t c = 0; c < class_pixels.size(); ++c)
    if (class_pixels[c] > 0) probs[c] = static_cast<double>(e[c] / sum);
  return probs;
}

std::vector<double> rcs_class_probs(const ClassStats& stats, double temperature) {
  return rcs_class_probs(stats.class_pixels(), temperature);
}

}  // namespace uda::data
