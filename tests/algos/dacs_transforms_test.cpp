// ClassMix and the strong augmentation of DACS (dacs_transforms.h), and the
// EMA formula the teacher uses.
#include "algos/seg/dacs_transforms.h"
#include "worker/ema.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <set>

namespace {

namespace A = uda::algos;

at::Generator gen(uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

torch::Tensor label_with(const std::vector<int64_t>& classes, int64_t h = 12, int64_t w = 10) {
  // Horizontal bands, one per class.
  auto l = torch::empty({h, w}, torch::kLong);
  for (int64_t y = 0; y < h; ++y) l[y].fill_(classes[static_cast<size_t>(y * static_cast<int64_t>(classes.size()) / h)]);
  return l;
}

TEST(ClassMix, ChoosesHalfRoundedUpWithoutRepetition) {
  for (int64_t n = 1; n <= 9; ++n) {
    auto classes = torch::arange(n, torch::kLong) * 2;
    auto g = gen(static_cast<uint64_t>(n));
    auto chosen = A::choose_mix_classes(classes, g);
    EXPECT_EQ(chosen.numel(), (n + n % 2) / 2) << n;
    std::set<int64_t> s;
    for (int64_t i = 0; i < chosen.numel(); ++i) s.insert(chosen[i].item<int64_t>());
    EXPECT_EQ(static_cast<int64_t>(s.size()), chosen.numel());
    for (auto c : s) EXPECT_EQ(c % 2, 0);
  }
}

TEST(ClassMix, MaskIsExactlyTheUnionOfChosenClasses) {
  auto label = label_with({0, 3, 7, 255, 11, 13});
  auto classes = std::get<0>(at::_unique(label, true));
  for (uint64_t seed = 0; seed < 20; ++seed) {
    auto g = gen(seed);
    auto chosen = A::choose_mix_classes(classes, g);
    EXPECT_EQ(chosen.numel(), 3);
    auto mask = A::class_mix_mask(label, chosen);
    ASSERT_EQ(mask.sizes(), (std::vector<int64_t>{1, 12, 10}));
    auto expected = torch::zeros_like(label, torch::kBool);
    for (int64_t i = 0; i < chosen.numel(); ++i) expected |= label.eq(chosen[i]);
    EXPECT_TRUE(mask[0].to(torch::kBool).equal(expected));
    EXPECT_TRUE(((mask == 0) | (mask == 1)).all().item<bool>());
  }
}

TEST(ClassMix, IgnoreCanBeChosenUnlessExcluded) {
  auto classes = torch::tensor({1, 255}, torch::kLong);  // n = 2 -> one class
  int with_ignore = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    auto g = gen(seed);
    with_ignore += A::choose_mix_classes(classes, g)[0].item<int64_t>() == 255;
    auto g2 = gen(seed);
    auto excl = A::choose_mix_classes(classes, g2, /*exclude_ignore=*/true);
    ASSERT_EQ(excl.numel(), 1);  // (1 + 1) / 2 of the one remaining class
    EXPECT_EQ(excl[0].item<int64_t>(), 1);
  }
  // The official quirk: 255 is one of the candidates, chosen about half the time.
  EXPECT_GT(with_ignore, 60);
  EXPECT_LT(with_ignore, 140);
}

TEST(ClassMix, SameGeneratorSameChoice) {
  auto classes = torch::arange(19, torch::kLong);
  auto g1 = gen(42), g2 = gen(42);
  EXPECT_TRUE(A::choose_mix_classes(classes, g1).equal(A::choose_mix_classes(classes, g2)));
}

TEST(ClassMix, OneMixPastesSourceWhereMaskIsOne) {
  auto mask = torch::tensor({{{1, 0}, {0, 1}}}, torch::kLong);  // [1, 2, 2]
  auto a = torch::full({3, 2, 2}, 5.0f), b = torch::full({3, 2, 2}, -1.0f);
  auto m = A::one_mix(mask, a, b);
  EXPECT_EQ(m[0][0][0].item<float>(), 5.0f);
  EXPECT_EQ(m[2][0][1].item<float>(), -1.0f);
  auto la = torch::full({2, 2}, 3, torch::kLong), lb = torch::full({2, 2}, 9, torch::kLong);
  auto ml = A::one_mix(mask, la, lb);
  EXPECT_EQ(ml.dtype(), torch::kLong);
  EXPECT_TRUE(ml.equal(torch::tensor({{{3, 9}, {9, 3}}}, torch::kLong)));
}

TEST(Blur, KernelSizeRule) {
  // floor(ceil(0.1 n) - 0.5 + ceil(0.1 n) % 2): odd ceil kept, even minus 1.
  EXPECT_EQ(A::blur_kernel_size(512), 51);
  EXPECT_EQ(A::blur_kernel_size(1024), 103);
  EXPECT_EQ(A::blur_kernel_size(96), 9);
  EXPECT_EQ(A::blur_kernel_size(101), 11);
  EXPECT_EQ(A::blur_kernel_size(32), 3);
  EXPECT_EQ(A::blur_kernel_size(10), 1);
}

TEST(Blur, SeparableEqualsTwoDimensionalReflectFilter) {
  torch::manual_seed(0);
  auto x = torch::rand({1, 3, 20, 17});
  const double sigma = 0.8;
  const int64_t ky = 5, kx = 3;
  auto g1 = [&](int64_t k) {
    auto t = torch::arange(k, torch::kFloat32) - static_cast<float>(k / 2);
    auto e = torch::exp(-t * t / static_cast<float>(2 * sigma * sigma));
    return e / e.sum();
  };
  auto k2 = torch::outer(g1(ky), g1(kx)).view({1, 1, ky, kx}).expand({3, 1, ky, kx}).contiguous();
  namespace F = torch::nn::functional;
  auto xp = F::pad(x, F::PadFuncOptions({1, 1, 2, 2}).mode(torch::kReflect));
  auto ref = F::conv2d(xp, k2, F::Conv2dFuncOptions().groups(3));
  auto out = A::gaussian_blur(x, ky, kx, sigma);
  EXPECT_TRUE(torch::allclose(out, ref, 1e-5, 1e-6));
  // A constant image stays constant; the kernel sums to one.
  auto c = torch::full({1, 3, 20, 17}, 0.3f);
  EXPECT_TRUE(torch::allclose(A::gaussian_blur(c, 9, 9, 1.1), c, 1e-5, 1e-6));
}

TEST(ColorJitter, HsvRoundTripAndIdentityParams) {
  torch::manual_seed(1);
  auto x = torch::rand({2, 3, 8, 9});
  EXPECT_TRUE(torch::allclose(A::hsv_to_rgb(A::rgb_to_hsv(x)), x, 1e-4, 1e-5));
  A::ColorJitterParams id;  // factors 1, hue 0
  EXPECT_TRUE(torch::allclose(A::apply_color_jitter(x, id), x, 1e-4, 1e-5));
}

TEST(ColorJitter, ParameterRangesAndClamping) {
  for (uint64_t seed = 0; seed < 50; ++seed) {
    auto g = gen(seed);
    auto p = A::sample_color_jitter(0.2, g);
    EXPECT_GE(p.brightness, 0.8);
    EXPECT_LE(p.brightness, 1.2);
    EXPECT_GE(p.contrast, 0.8);
    EXPECT_LE(p.contrast, 1.2);
    EXPECT_GE(p.saturation, 0.8);
    EXPECT_LE(p.saturation, 1.2);
    EXPECT_GE(p.hue, -0.2);
    EXPECT_LE(p.hue, 0.2);
    std::set<int64_t> order(p.order.begin(), p.order.end());
    EXPECT_EQ(order, (std::set<int64_t>{0, 1, 2, 3}));
  }
  auto x = torch::rand({1, 3, 6, 6});
  A::ColorJitterParams p;
  p.brightness = 1.2;
  p.contrast = 1.2;
  auto y = A::apply_color_jitter(x, p);
  EXPECT_GE(y.min().item<float>(), 0.0f);
  EXPECT_LE(y.max().item<float>(), 1.0f);
  // Brightness is additive (kornia 0.5: x + (factor - 1)).
  A::ColorJitterParams b;
  b.brightness = 0.9;
  auto half = torch::full({1, 3, 2, 2}, 0.5f);
  EXPECT_TRUE(torch::allclose(A::apply_color_jitter(half, b), torch::full({1, 3, 2, 2}, 0.4f), 1e-6, 1e-6));
}

TEST(StrongAugment, DeterministicPerGeneratorAndRenormalised) {
  torch::manual_seed(2);
  auto img = torch::randn({1, 3, 32, 32});
  A::StrongAugmentation a;
  a.color_jitter = true;
  a.blur = true;
  auto g1 = gen(7), g2 = gen(7), g3 = gen(8);
  auto o1 = A::strong_augment(img, a, g1);
  auto o2 = A::strong_augment(img, a, g2);
  auto o3 = A::strong_augment(img, a, g3);
  EXPECT_TRUE(o1.equal(o2));
  EXPECT_FALSE(o1.equal(o3));
  // Neither applied: the image is returned unchanged.
  A::StrongAugmentation none;
  auto g4 = gen(7);
  EXPECT_TRUE(A::strong_augment(img, none, g4).equal(img));
  // Jitter only, identity-sized strength 0: denorm/renorm round trip within
  // the clamp to [0, 1] of the denormalised image.
  A::StrongAugmentation zero;
  zero.color_jitter = true;
  zero.strength = 0.0;
  auto mean = torch::tensor({123.675, 116.28, 103.53}).view({1, 3, 1, 1}).to(torch::kFloat);
  auto stdv = torch::tensor({58.395, 57.12, 57.375}).view({1, 3, 1, 1}).to(torch::kFloat);
  auto inrange = (torch::rand({1, 3, 8, 8}) * 250.0 + 2.0 - mean) / stdv;
  auto g5 = gen(3);
  EXPECT_TRUE(torch::allclose(A::strong_augment(inrange, zero, g5), inrange, 1e-3, 1e-4));
}

TEST(Ema, FormulaAndWarmStart) {
  // alpha_t = min(1 - 1/(t + 1), alpha) ([dacs] _update_ema).
  EXPECT_DOUBLE_EQ(uda::worker::ema_alpha(0.999, 1), 0.5);
  EXPECT_DOUBLE_EQ(uda::worker::ema_alpha(0.999, 9), 0.9);
  EXPECT_DOUBLE_EQ(uda::worker::ema_alpha(0.99, 5000), 0.99);
  auto t = torch::full({3}, 1.0f), s = torch::full({3}, 3.0f);
  uda::worker::ema_update({t}, {s}, 0.75);
  EXPECT_TRUE(torch::allclose(t, torch::full({3}, 1.5f)));
}

}  // namespace
