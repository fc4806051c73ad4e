#include "core/error.h"
#include "data/convert/registry.h"
#include "data/dataset.h"
#include "tests/support/test_support.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace uda::data;
using uda::test::TempDir;

namespace {
ConvertOptions toy(const std::string& out, uint64_t seed, int jobs, int64_t count = 60) {
  ConvertOptions o;
  o.format = "toyscenes";
  o.out = out;
  o.seed = seed;
  o.jobs = jobs;
  o.count = count;
  o.shard_size = 25;
  o.progress = false;
  return o;
}

struct ColourStats {
  double mean[3] = {0, 0, 0};
  double local_var = 0;  // mean squared difference of horizontal neighbours
};

// Colour statistics of one class over a dataset.
ColourStats class_colour(const Dataset& ds, uint8_t cls) {
  ColourStats st;
  double n = 0, nd = 0;
  for (size_t i = 0; i < ds.size(); ++i) {
    auto s = ds.read(i);
    for (int y = 0; y < s.image.height; ++y)
      for (int x = 0; x < s.image.width; ++x) {
        size_t p = static_cast<size_t>(y) * s.image.width + x;
        if (s.label.pixels[p] != cls) continue;
        for (int c = 0; c < 3; ++c) st.mean[c] += s.image.pixels[p * 3 + c];
        ++n;
        if (x + 1 < s.image.width && s.label.pixels[p + 1] == cls) {
          double d = double(s.image.pixels[p * 3 + 1]) - s.image.pixels[(p + 1) * 3 + 1];
          st.local_var += d * d;
          ++nd;
        }
      }
  }
  for (double& m : st.mean) m /= std::max(n, 1.0);
  st.local_var /= std::max(nd, 1.0);
  return st;
}
}  // namespace

TEST(Toyscenes, WritesThreeDatasetsDeterministicallyWhateverTheJobs) {
  TempDir tmp;
  auto dirs = convert(toy(tmp / "a", 7, 1));
  ASSERT_EQ(dirs.size(), 3u);
  convert(toy(tmp / "b", 7, 2));
  convert(toy(tmp / "c", 8, 2));
  for (std::string role : {"source", "target", "target_val"}) {
    auto a = Dataset::open(tmp / ("a/" + role)), b = Dataset::open(tmp / ("b/" + role)),
         c = Dataset::open(tmp / ("c/" + role));
    ASSERT_EQ(a->size(), role == "target_val" ? 12u : 60u);
    for (size_t k = 0; k < a->manifest().shards.size(); ++k)
      EXPECT_EQ(a->manifest().shards[k].xxh64, b->manifest().shards[k].xxh64) << role;  // byte-identical shards
    EXPECT_NE(a->read(0).image.pixels, c->read(0).image.pixels) << "the seed must matter";
    auto s = a->read(3);
    EXPECT_EQ(s.image.width, 128);
    EXPECT_EQ(s.image.height, 96);
  }
}

TEST(Toyscenes, UsesTheSceneClassesAndRareThings) {
  TempDir tmp;
  convert(toy(tmp / "t", 1, 2, 200));
  auto ds = Dataset::open(tmp / "t/source");
  auto px = ds->class_stats().class_pixels();
  auto with = ds->class_stats().images_with_class(0);
  for (int c : {0, 1, 2, 8, 10}) EXPECT_GT(with[c].size(), 100u) << "stuff class " << c;
  for (int c : {5, 11, 13}) {
    EXPECT_GT(px[c], 0) << "thing class " << c;
    EXPECT_LT(with[c].size(), 150u) << "thing class " << c << " should be rare";
    EXPECT_LT(px[c] * 20, px[0]) << "thing class " << c << " should be small";
  }
  for (int c : {3, 4, 6, 7, 9, 12, 14, 15, 16, 17, 18}) EXPECT_EQ(px[c], 0) << c;
  // Rarity option: fewer things.
  auto o = toy(tmp / "rare", 1, 2, 200);
  o.thing_rarity = 0.2;
  convert(o);
  auto rare = Dataset::open(tmp / "rare/source");
  EXPECT_LT(rare->class_stats().images_with_class(0)[13].size(), with[13].size() / 2);
}

TEST(Toyscenes, SourceAndTargetDifferInColourAndTexture) {
  TempDir tmp;
  convert(toy(tmp / "t", 3, 2, 40));
  auto src = Dataset::open(tmp / "t/source"), tgt = Dataset::open(tmp / "t/target");
  for (uint8_t cls : {0, 1, 2, 8, 10}) {
    auto a = class_colour(*src, cls), b = class_colour(*tgt, cls);
    double dist = std::sqrt(std::pow(a.mean[0] - b.mean[0], 2) + std::pow(a.mean[1] - b.mean[1], 2) +
                            std::pow(a.mean[2] - b.mean[2], 2));
    EXPECT_GT(dist, 25) << "class " << int(cls) << " looks the same in both domains";
    EXPECT_GT(b.local_var, 4 * a.local_var + 20) << "class " << int(cls) << " target should be textured";
  }
}
