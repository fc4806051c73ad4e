// Exactness of the geometric transforms, normalisation and padding against
// the mmseg/mmcv rules they implement.
#include "data/pipeline/image_transforms.h"
#include "data/pipeline/randaugment.h"
#include "data/pipeline/transform_pipeline.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

namespace dp = uda::data::pipeline;
using uda::data::Image;

namespace {

Image make(int h, int w, int c, uint8_t base = 0) {
  Image im;
  im.height = h;
  im.width = w;
  im.channels = c;
  im.pixels.resize(im.size());
  for (size_t i = 0; i < im.pixels.size(); ++i) im.pixels[i] = static_cast<uint8_t>(base + i * 13);
  return im;
}

uint8_t at(const Image& im, int y, int x, int c = 0) { return im.pixels[(y * im.width + x) * im.channels + c]; }

TEST(RescaleSize, FollowsMmcvKeepRatioRule) {
  // GTA 1914x1052 into (1280, 720): f = min(1280/1914, 720/1052).
  EXPECT_EQ(dp::rescale_size(1914, 1052, {1280, 720}), (std::array<int, 2>{1280, 704}));
  // Cityscapes 2048x1024 into (1024, 512): exactly half.
  EXPECT_EQ(dp::rescale_size(2048, 1024, {1024, 512}), (std::array<int, 2>{1024, 512}));
  // Portrait input: f = min(1280 / 300, 720 / 100); the long edge limits it.
  EXPECT_EQ(dp::rescale_size(100, 300, {1280, 720}), (std::array<int, 2>{427, 1280}));
}

TEST(Resize, NearestKeepsLabelValuesLinearInterpolatesImages) {
  Image lab = make(4, 4, 1);
  for (size_t i = 0; i < lab.pixels.size(); ++i) lab.pixels[i] = i < 8 ? 3 : 255;
  Image big = dp::resize(lab, 8, 8, dp::Interp::Nearest);
  for (uint8_t v : big.pixels) EXPECT_TRUE(v == 3 || v == 255);
  EXPECT_EQ(at(big, 0, 0), 3);
  EXPECT_EQ(at(big, 7, 7), 255);
  Image img = make(2, 2, 1);
  img.pixels = {0, 100, 0, 100};
  Image up = dp::resize(img, 4, 2, dp::Interp::Linear);
  // OpenCV half-pixel centres: x_src = (x + 0.5) / 2 - 0.5 -> 0.25 at x = 1.
  EXPECT_EQ(at(up, 0, 0), 0);
  EXPECT_EQ(at(up, 0, 1), 25);
  EXPECT_EQ(at(up, 0, 2), 75);
  EXPECT_EQ(at(up, 0, 3), 100);
}

TEST(Crop, BoxesStayInsideAndCoverEveryOffset) {
  dp::Rng rng(1);
  std::map<int, int> ys;
  for (int i = 0; i < 2000; ++i) {
    auto b = dp::random_crop_box(10, 20, {7, 20}, rng);
    ASSERT_GE(b.y1, 0);
    ASSERT_LE(b.y2, 10);
    ASSERT_EQ(b.x1, 0);  // no horizontal margin
    ys[b.y1]++;
  }
  EXPECT_EQ(ys.size(), 4u);  // offsets 0..3
  Image im = make(10, 20, 3);
  Image c = dp::crop(im, {2, 9, 5, 12});
  ASSERT_EQ(c.height, 7);
  ASSERT_EQ(c.width, 7);
  for (int ch = 0; ch < 3; ++ch) EXPECT_EQ(at(c, 1, 2, ch), at(im, 3, 7, ch));
}

TEST(CatMaxRatio, TestCountsOnlyValidPixelsAndNeedsTwoClasses) {
  Image lab = make(4, 4, 1);
  // 12 pixels of class 1, 3 of class 2, 1 ignore: largest share 12/15 = 0.8.
  lab.pixels.assign(16, 1);
  lab.pixels[0] = lab.pixels[1] = lab.pixels[2] = 2;
  lab.pixels[15] = 255;
  dp::CropBox all{0, 4, 0, 4};
  EXPECT_FALSE(dp::crop_passes_cat_max_ratio(lab, all, 0.75));
  EXPECT_TRUE(dp::crop_passes_cat_max_ratio(lab, all, 0.81));
  // 0.8 is not < 0.8: strict comparison.
  EXPECT_FALSE(dp::crop_passes_cat_max_ratio(lab, all, 0.8));
  // One class only (ignore does not count as a class) never passes.
  Image one = make(2, 2, 1);
  one.pixels = {4, 4, 255, 255};
  EXPECT_FALSE(dp::crop_passes_cat_max_ratio(one, {0, 2, 0, 2}, 0.99));
}

TEST(CatMaxRatio, RetriesUntilACropPassesAndGivesUpAfterTen) {
  // Left half class 0 only, right half a 50/50 mix of 1 and 2: only crops on
  // the right pass. 10 retries almost always find one.
  Image lab = make(8, 64, 1);
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 64; ++x) lab.pixels[y * 64 + x] = x < 32 ? 0 : static_cast<uint8_t>(1 + (x + y) % 2);
  int passed = 0;
  for (uint64_t k = 0; k < 200; ++k) {
    dp::Rng rng(k);
    auto box = dp::cat_max_ratio_crop_box(lab, {8, 8}, 0.75, rng);
    passed += dp::crop_passes_cat_max_ratio(lab, box, 0.75);
  }
  EXPECT_GE(passed, 195);
  // A label no crop can pass: exactly 11 boxes are drawn (first + 10 retries).
  Image flat = make(8, 64, 1);
  flat.pixels.assign(flat.pixels.size(), 3);
  dp::Rng a(5), b(5);
  dp::cat_max_ratio_crop_box(flat, {8, 8}, 0.75, a);
  for (int i = 0; i < 11; ++i) dp::random_crop_box(8, 64, {8, 8}, b);
  EXPECT_EQ(a.next_u64(), b.next_u64());
  // Disabled (ratio >= 1): one box only.
  dp::Rng c(5), d(5);
  dp::cat_max_ratio_crop_box(flat, {8, 8}, 1.0, c);
  dp::random_crop_box(8, 64, {8, 8}, d);
  EXPECT_EQ(c.next_u64(), d.next_u64());
}

TEST(Flip, MirrorsEveryRowAndIsAnInvolution) {
  Image im = make(3, 5, 3);
  Image f = im;
  dp::hflip(f);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 5; ++x)
      for (int c = 0; c < 3; ++c) EXPECT_EQ(at(f, y, x, c), at(im, y, 4 - x, c));
  dp::hflip(f);
  EXPECT_EQ(f.pixels, im.pixels);
}

TEST(Pad, BottomRightWithValue) {
  Image lab = make(2, 3, 1, 7);
  Image p = dp::pad_to(lab, 4, 5, 255);
  ASSERT_EQ(p.height, 4);
  ASSERT_EQ(p.width, 5);
  EXPECT_EQ(at(p, 1, 2), at(lab, 1, 2));
  EXPECT_EQ(at(p, 1, 3), 255);
  EXPECT_EQ(at(p, 3, 0), 255);
}

TEST(Normalize, MatchesMmcvFloat32AndPadsWithZero) {
  auto cfg = dp::TransformConfig::daformer_gta_train();
  dp::Normalizer norm(cfg);
  Image im = make(2, 3, 3);
  std::vector<float> out(3 * 4 * 5, -1.f);
  norm.write_chw(im, out.data(), 3, 4, 5);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 5; ++x) {
        const float v = out[(c * 4 + y) * 5 + x];
        if (y < 2 && x < 3) {
          const float expect = (static_cast<float>(at(im, y, x, c)) - static_cast<float>(cfg.mean[c])) *
                               static_cast<float>(1.0 / cfg.std[c]);
          EXPECT_EQ(v, expect);
          EXPECT_NEAR(v, (at(im, y, x, c) - cfg.mean[c]) / cfg.std[c], 1e-5);
        } else {
          EXPECT_EQ(v, 0.0f);  // DAFormer: Normalize, then Pad(pad_val=0)
        }
      }
  std::vector<uint8_t> lab(4 * 5, 0);
  Image l = make(2, 3, 1);
  dp::write_label(l, lab.data(), 4, 5);
  EXPECT_EQ(lab[1 * 5 + 2], at(l, 1, 2));
  EXPECT_EQ(lab[1 * 5 + 3], 255);
  EXPECT_EQ(lab[3 * 5 + 0], 255);
}

TEST(Pipeline, DaformerGtaPresetProducesCropsOfStoredImages) {
  auto cfg = dp::TransformConfig::daformer_gta_train();
  Image im = make(720, 1280, 3), lab = make(720, 1280, 1);
  for (size_t i = 0; i < lab.pixels.size(); ++i) lab.pixels[i] = static_cast<uint8_t>((i % 1280) / 100);
  dp::Rng rng(3);
  auto t = dp::apply_transforms(im, lab, cfg, rng);
  EXPECT_EQ(t.image.height, 512);
  EXPECT_EQ(t.image.width, 512);
  EXPECT_EQ(t.label.height, 512);
  // The same key gives the same result; another key (almost surely) not.
  dp::Rng again(3), other(4);
  EXPECT_EQ(dp::apply_transforms(im, lab, cfg, again).image.pixels, t.image.pixels);
  EXPECT_NE(dp::apply_transforms(im, lab, cfg, other).image.pixels, t.image.pixels);
}

TEST(Pipeline, RandomRatioScaleRangeIsRespected) {
  dp::TransformConfig cfg;
  cfg.img_scale = {200, 100};
  cfg.ratio_range = std::array<double, 2>{0.5, 2.0};
  Image im = make(100, 200, 3), lab = make(100, 200, 1);
  int lo = 1 << 30, hi = 0;
  for (uint64_t k = 0; k < 300; ++k) {
    dp::Rng rng(k);
    auto t = dp::apply_transforms(im, lab, cfg, rng);
    EXPECT_EQ(t.image.width, 2 * t.image.height);
    EXPECT_EQ(t.label.width, t.image.width);
    lo = std::min(lo, t.image.width);
    hi = std::max(hi, t.image.width);
  }
  EXPECT_GE(lo, 100);
  EXPECT_LE(lo, 110);
  EXPECT_LE(hi, 400);
  EXPECT_GE(hi, 380);
}

TEST(RandAugment, GeometricOpsMoveLabelsPhotometricOnesDoNot) {
  Image im = make(20, 30, 3), lab = make(20, 30, 1);
  dp::Rng rng(1);
  // TranslateXabs by 10 (sign drawn inside): labels shift with the image, fill 255.
  Image i2 = im, l2 = lab;
  dp::apply_randaug_op(dp::RandAugOp::TranslateXabs, 10, i2, &l2, rng);
  const bool left = at(l2, 0, 29) == 255;  // content moved left: right edge filled
  for (int y = 0; y < 20; ++y)
    for (int x = 0; x < 30; ++x) {
      const int sx = left ? x + 10 : x - 10;
      if (sx < 0 || sx >= 30) {
        EXPECT_EQ(at(l2, y, x), 255);
        EXPECT_EQ(at(i2, y, x, 1), 0);
      } else {
        EXPECT_EQ(at(l2, y, x), at(lab, y, sx));
        EXPECT_EQ(at(i2, y, x, 1), at(im, y, sx, 1));
      }
    }
  Image i3 = im, l3 = lab;
  dp::apply_randaug_op(dp::RandAugOp::Solarize, 128, i3, &l3, rng);  // threshold 128
  EXPECT_EQ(l3.pixels, lab.pixels);
  for (size_t k = 0; k < im.pixels.size(); ++k)
    EXPECT_EQ(i3.pixels[k], im.pixels[k] >= 128 ? 255 - im.pixels[k] : im.pixels[k]);
  Image i4 = im;
  dp::apply_randaug_op(dp::RandAugOp::Posterize, 4, i4, nullptr, rng);  // 4 bits kept
  for (size_t k = 0; k < im.pixels.size(); ++k) EXPECT_EQ(i4.pixels[k], im.pixels[k] & 0xF0);
  EXPECT_DOUBLE_EQ(dp::randaug_value(dp::RandAugOp::Rotate, 15), 15.0);
  EXPECT_DOUBLE_EQ(dp::randaug_value(dp::RandAugOp::Solarize, 30), 256.0);
}

TEST(RandAugment, RotateBy180IsAPointMirror) {
  Image im = make(6, 8, 3);
  // Rotate 30 degrees twice is not easy to check; 180 = flip both axes.
  dp::Rng rng(0);
  Image r = im;
  // Value sign does not matter for 180 degrees.
  dp::apply_randaug_op(dp::RandAugOp::Rotate, 180, r, nullptr, rng);
  for (int y = 0; y < 6; ++y)
    for (int x = 0; x < 8; ++x) EXPECT_EQ(at(r, y, x, 2), at(im, 5 - y, 7 - x, 2)) << y << "," << x;
}

}  // namespace
