// The per-row RandAugment of csg_views.h: back to uint8 pixels, the
// pipeline's RandAugment (data/pipeline/randaugment.cpp), normalised again.
#include "algos/contrastive/csg_views.h"

#include "data/pipeline/randaugment.h"
#include "data/pipeline/rng.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

namespace uda::algos::contrastive {

at::Tensor rand_augment_rows(const at::Tensor& images, const std::vector<uint64_t>& row_keys, int n, int magnitude,
                             const PixelNormalization& norm) {
  const int64_t rows = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  if (c != 1 && c != 3) throw std::invalid_argument("rand_augment_rows: 1- or 3-channel images only");
  if (static_cast<int64_t>(row_keys.size()) != rows) throw std::invalid_argument("rand_augment_rows: one key per row");
  auto host = images.detach().to(torch::kCPU, torch::kFloat).contiguous();
  if (n == 0) return host.clone().to(images.device(), images.scalar_type());
  auto out = torch::empty_like(host);
  const float* src = host.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  const int64_t plane = h * w;
  for (int64_t r = 0; r < rows; ++r) {
    data::Image img;
    img.height = static_cast<int>(h);
    img.width = static_cast<int>(w);
    img.channels = 3;
    img.pixels.resize(static_cast<size_t>(plane) * 3);
    const float* s = src + r * c * plane;
    for (int64_t i = 0; i < plane; ++i)
      for (int64_t ch = 0; ch < 3; ++ch) {
        const int64_t from = c == 1 ? 0 : ch;
        // The loader's x = (p - mean) / std of a uint8 p: p comes back exactly.
        const double p = std::nearbyint(s[from * plane + i] * norm.std[from] + norm.mean[from]);
        img.pixels[static_cast<size_t>(i * 3 + ch)] = static_cast<uint8_t>(std::min(255.0, std::max(0.0, p)));
      }
    data::pipeline::Rng rng(row_keys[static_cast<size_t>(r)]);
    data::pipeline::rand_augment(img, nullptr, n, magnitude, rng);
    float* d = dst + r * c * plane;
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < plane; ++i)
        d[ch * plane + i] = static_cast<float>(
            (img.pixels[static_cast<size_t>(i * 3 + ch)] - norm.mean[ch]) / norm.std[ch]);
  }
  return out.to(images.device(), images.scalar_type());
}

}  // namespace uda::algos::contrastive
