// References: DAFormer mmseg/models/utils/dacs_transforms.py [dt]; kornia
// 0.5.x (DAFormer's requirements pin kornia 0.5.8):
// augmentation/functional apply_color_jitter and apply_adjust_* [kf],
// random_generator random_color_jitter_generator [kg], enhance/adjust.py
// [ka], color/hsv.py [hsv], filters/gaussian.py + kernels.py [kb].
#include "algos/seg/dacs_transforms.h"

#include <torch/torch.h>

#include <cmath>

namespace uda::algos {

namespace F = torch::nn::functional;

namespace {

double uniform(at::Generator& gen, double lo, double hi) {
  return torch::empty({1}, torch::kFloat64).uniform_(lo, hi, gen).item<double>();
}

at::Tensor channel_vector(const std::array<double, 3>& v, const at::Tensor& like) {
  return torch::tensor({v[0], v[1], v[2]}, torch::kFloat64).to(like.options()).view({1, 3, 1, 1});
}

// kornia filters get_gaussian_kernel1d: x = arange(k) - k // 2 (+0.5 when
// k is even), exp(-x^2 / (2 sigma^2)), normalised to sum 1.
at::Tensor gaussian_kernel1d(int64_t k, double sigma, const at::TensorOptions& opt) {
  auto x = torch::arange(k, torch::kFloat32) - static_cast<float>(k / 2);
  if (k % 2 == 0) x = x + 0.5f;
  auto g = torch::exp(-x.pow(2.0) / static_cast<float>(2.0 * sigma * sigma));
  return (g / g.sum()).to(opt);
}

}  // namespace

at::Tensor choose_mix_classes(const at::Tensor& classes, at::Generator& gen, bool exclude_ignore) {
  auto c = classes.to(torch::kLong).reshape({-1});
  if (exclude_ignore) c = c.masked_select(c != 255);
  const int64_t n = c.numel();
  // [dt] get_class_masks: np.random.choice(nclasses, int((n + n % 2) / 2),
  // replace=False) = the first k entries of a random permutation.
  const int64_t k = (n + n % 2) / 2;
  if (k == 0) return c;
  auto perm = torch::randperm(n, gen, torch::TensorOptions().dtype(torch::kLong));
  return c.index_select(0, perm.slice(0, 0, k).to(c.device()));
}

at::Tensor class_mix_mask(const at::Tensor& label, const at::Tensor& classes) {
  auto l = label.dim() == 2 ? label.unsqueeze(0) : label;  // [1, H, W]
  if (classes.numel() == 0) return torch::zeros_like(l, l.options().dtype(torch::kLong));
  // [dt] generate_class_mask: label.eq(classes[:, None, None]).sum(0, keepdims=True).
  auto c = classes.to(l.device()).view({-1, 1, 1});
  return l.eq(c).sum(0, /*keepdim=*/true).to(torch::kLong);
}

at::Tensor one_mix(const at::Tensor& mask, const at::Tensor& a, const at::Tensor& b) {
  // [dt] one_mix: stackedMask0 * data[0] + (1 - stackedMask0) * data[1],
  // the mask broadcast over the channels.
  auto m = mask.to(a.scalar_type());
  while (m.dim() < a.dim()) m = m.unsqueeze(0);
  return m * a + (1 - m) * b;
}

ColorJitterParams sample_color_jitter(double s, at::Generator& gen) {
  // [kg] factors uniform in the _range_bound ranges: brightness centre 1
  // bounds (0, 2); contrast and saturation centre 1 bounds (0, inf); hue
  // centre 0 bounds (-0.5, 0.5); order = randperm(4).
  ColorJitterParams p;
  p.brightness = uniform(gen, std::max(0.0, 1.0 - s), std::min(2.0, 1.0 + s));
  p.contrast = uniform(gen, std::max(0.0, 1.0 - s), 1.0 + s);
  p.saturation = uniform(gen, std::max(0.0, 1.0 - s), 1.0 + s);
  p.hue = uniform(gen, std::max(-0.5, -s), std::min(0.5, s));
  auto order = torch::randperm(4, gen, torch::TensorOptions().dtype(torch::kLong));
  for (int i = 0; i < 4; ++i) p.order[static_cast<size_t>(i)] = order[i].item<int64_t>();
  return p;
}

at::Tensor rgb_to_hsv(const at::Tensor& image, double eps) {
  // [hsv] rgb_to_hsv: v = max, s = (max - min) / (max + eps), hue sector by
  // the argmax channel, in radians.
  auto [maxc, argmax] = image.max(-3);
  auto minc = std::get<0>(image.min(-3));
  auto delta = maxc - minc;
  auto v = maxc;
  auto s = delta / (v + eps);
  delta = torch::where(delta == 0, torch::ones_like(delta), delta);
  auto d = maxc.unsqueeze(-3) - image;
  auto rc = d.select(-3, 0), gc = d.select(-3, 1), bc = d.select(-3, 2);
  auto h1 = bc - gc;
  auto h2 = (rc - bc) + 2.0 * delta;
  auto h3 = (gc - rc) + 4.0 * delta;
  auto h = torch::stack({h1, h2, h3}, -3) / delta.unsqueeze(-3);
  h = torch::gather(h, -3, argmax.unsqueeze(-3)).squeeze(-3);
  h = torch::remainder(h / 6.0, 1.0);
  h = 2.0 * M_PI * h;
  return torch::stack({h, s, v}, -3);
}

at::Tensor hsv_to_rgb(const at::Tensor& image) {
  // [hsv] hsv_to_rgb: sector hi = floor(6 h') mod 6, fraction f, then the
  // usual (v, q, p, p, t, v | t, v, v, q, p, p | p, p, t, v, v, q) table.
  auto h = image.select(-3, 0) / (2.0 * M_PI);
  auto s = image.select(-3, 1);
  auto v = image.select(-3, 2);
  auto hi = torch::remainder(torch::floor(h * 6.0), 6.0);
  auto f = torch::remainder(h * 6.0, 6.0) - hi;
  auto p = v * (1.0 - s);
  auto q = v * (1.0 - f * s);
  auto t = v * (1.0 - (1.0 - f) * s);
  auto hl = hi.to(torch::kLong);
  auto idx = torch::stack({hl, hl + 6, hl + 12}, -3);
  auto table = torch::stack({v, q, p, p, t, v, t, v, v, q, p, p, p, p, t, v, v, q}, -3);
  return torch::gather(table, -3, idx);
}

at::Tensor apply_color_jitter(const at::Tensor& image01, const ColorJitterParams& p) {
  auto x = image01;
  for (int64_t op : p.order) {
    switch (op) {
      case 0:  // [kf] adjust_brightness(x, factor - 1): [ka] x + b, clamp
        x = torch::clamp(x + (p.brightness - 1.0), 0.0, 1.0);
        break;
      case 1:  // [ka] adjust_contrast: x * c, clamp
        x = torch::clamp(x * p.contrast, 0.0, 1.0);
        break;
      case 2: {  // [ka] adjust_saturation: HSV s * f, clamp to [0, 1]
        auto hsv = rgb_to_hsv(x);
        auto s = torch::clamp(hsv.select(-3, 1) * p.saturation, 0.0, 1.0);
        x = hsv_to_rgb(torch::stack({hsv.select(-3, 0), s, hsv.select(-3, 2)}, -3));
        break;
      }
      default: {  // [kf] adjust_hue(x, hue * 2 pi): [ka] fmod(h + shift, 2 pi)
        auto hsv = rgb_to_hsv(x);
        auto h = torch::fmod(hsv.select(-3, 0) + p.hue * 2.0 * M_PI, 2.0 * M_PI);
        x = hsv_to_rgb(torch::stack({h, hsv.select(-3, 1), hsv.select(-3, 2)}, -3));
        break;
      }
    }
  }
  return x;
}

int64_t blur_kernel_size(int64_t side) {
  // [dt] gaussian_blur: int(floor(ceil(0.1 * n) - 0.5 + ceil(0.1 * n) % 2)).
  const double c = std::ceil(0.1 * static_cast<double>(side));
  return static_cast<int64_t>(std::floor(c - 0.5 + std::fmod(c, 2.0)));
}

at::Tensor gaussian_blur(const at::Tensor& image, int64_t ky, int64_t kx, double sigma) {
  // [kb] GaussianBlur2d = filter2d with the outer product of the two 1-D
  // kernels, 'reflect' padding of (k - 1) / 2 per side, per channel. The
  // kernel is separable, so two 1-D depthwise convolutions give the same map.
  const int64_t c = image.size(1);
  auto opt = image.options();
  auto gy = gaussian_kernel1d(ky, sigma, opt).view({1, 1, ky, 1}).expand({c, 1, ky, 1}).contiguous();
  auto gx = gaussian_kernel1d(kx, sigma, opt).view({1, 1, 1, kx}).expand({c, 1, 1, kx}).contiguous();
  const int64_t py = (ky - 1) / 2, px = (kx - 1) / 2;
  auto x = F::pad(image, F::PadFuncOptions({px, kx - 1 - px, py, ky - 1 - py}).mode(torch::kReflect));
  x = F::conv2d(x, gy, F::Conv2dFuncOptions().groups(c));
  return F::conv2d(x, gx, F::Conv2dFuncOptions().groups(c));
}

at::Tensor strong_augment(const at::Tensor& image, const StrongAugmentation& a, at::Generator& gen) {
  auto x = image;
  if (a.color_jitter) {
    // [dt] color_jitter: denorm_ (x * std + mean) / 255, jitter, renorm_.
    auto mean = channel_vector(a.mean, x), stdv = channel_vector(a.std, x);
    auto x01 = (x * stdv + mean) / 255.0;
    x01 = apply_color_jitter(x01, sample_color_jitter(a.strength, gen));
    x = (x01 * 255.0 - mean) / stdv;
  }
  if (a.blur) {
    // [dt] gaussian_blur: sigma = np.random.uniform(0.15, 1.15), kernel
    // sizes from the image height and width.
    const double sigma = uniform(gen, 0.15, 1.15);
    x = gaussian_blur(x, blur_kernel_size(x.size(2)), blur_kernel_size(x.size(3)), sigma);
  }
  return x;
}

}  // namespace uda::algos
