#include "data/class_stats.h"

#include <stdexcept>

namespace uda::data {

std::vector<int64_t> ClassStats::class_pixels() const {
  std::vector<int64_t> total(num_classes(), 0);
  for (const auto& row : per_image)
    for (size_t c = 0; c < row.size() && c < total.size(); ++c) total[c] += row[c];
  return total;
}

std::vector<double> ClassStats::class_freq() const {
  auto pixels = class_pixels();
  int64_t sum = 0;
  for (auto p : pixels) sum += p;
  std::vector<double> freq(pixels.size(), 0.0);
  if (sum == 0) return freq;
  for (size_t c = 0; c < pixels.size(); ++c) freq[c] = static_cast<double>(pixels[c]) / static_cast<double>(sum);
  return freq;
}

std::vector<std::vector<int64_t>> ClassStats::domain_class_pixels() const {
  size_t domains = std::max<size_t>(domain_names.size(), 1);
  std::vector<std::vector<int64_t>> out(domains, std::vector<int64_t>(num_classes(), 0));
  for (size_t i = 0; i < per_image.size(); ++i) {
    size_t d = i < image_domain.size() ? static_cast<size_t>(image_domain[i]) : 0;
    if (d >= domains) continue;
    for (size_t c = 0; c < per_image[i].size() && c < num_classes(); ++c) out[d][c] += per_image[i][c];
  }
  return out;
}

std::vector<std::vector<double>> ClassStats::domain_class_ratio() const {
  auto pixels = domain_class_pixels();
  std::vector<std::vector<double>> out(pixels.size(), std::vector<double>(num_classes(), 0.0));
  for (size_t d = 0; d < pixels.size(); ++d) {
    int64_t sum = 0;
    for (auto p : pixels[d]) sum += p;
    if (sum == 0) continue;
    for (size_t c = 0; c < num_classes(); ++c) out[d][c] = static_cast<double>(pixels[d][c]) / static_cast<double>(sum);
  }
  return out;
}

std::vector<std::vector<int64_t>> ClassStats::images_with_class(int64_t min_pixels) const {
  std::vector<std::vector<int64_t>> out(num_classes());
  for (size_t i = 0; i < per_image.size(); ++i)
    for (size_t c = 0; c < per_image[i].size() && c < num_classes(); ++c)
      if (per_image[i][c] > min_pixels) out[c].push_back(static_cast<int64_t>(i));
  return out;
}

void ClassStats::check_consistent() const {
  for (const auto& row : per_image)
    if (row.size() != num_classes()) throw std::invalid_argument("ClassStats: per_image row size != num_classes");
  if (!image_domain.empty() && image_domain.size() != per_image.size())
    throw std::invalid_argument("ClassStats: image_domain size != num_images");
  if (!image_names.empty() && image_names.size() != per_image.size())
    throw std::invalid_argument("ClassStats: image_names size != num_images");
  for (int d : image_domain)
    if (d < 0 || static_cast<size_t>(d) >= std::max<size_t>(domain_names.size(), 1))
      throw std::invalid_argument("ClassStats: image_domain out of range");
}

}  // namespace uda::data
