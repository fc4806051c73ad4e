// Samplers are pure functions of (seed, step, slot/position): resumable and
// independent of the rank layout.
#include "data/pipeline/basic_samplers.h"
#include "data/pipeline/class_balanced_sampler.h"
#include "data/pipeline/rare_class_sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <set>

namespace dp = uda::data::pipeline;

namespace {

using Factory = std::function<std::unique_ptr<dp::Sampler>()>;

// The samples rank `rank` of `world` gets at `step` with per-rank batch b,
// drawn as the loader does (interleaved global slots).
std::vector<int64_t> rank_batch(dp::Sampler& s, int64_t step, int rank, int world, int b) {
  std::vector<int64_t> out;
  const int64_t B = int64_t{world} * b;
  for (int j = 0; j < b; ++j) {
    dp::DrawRequest r;
    r.step = step;
    r.slot = dp::global_slot(rank, world, j);
    r.position = step * B + r.slot;
    out.push_back(s.draw(r).index);
  }
  return out;
}

std::vector<std::vector<int64_t>> per_image_counts() {
  // 40 images, 6 classes; class 5 rare, class 4 absent everywhere.
  std::vector<std::vector<int64_t>> rows;
  for (int i = 0; i < 40; ++i)
    rows.push_back({1000 + i, 500, 300 + 7 * i, i % 3 == 0 ? 200 : 0, 0, i % 10 == 0 ? 50 : 0});
  return rows;
}

std::map<std::string, Factory> factories() {
  std::vector<int64_t> cls;
  for (int i = 0; i < 60; ++i) cls.push_back(i % 4);
  return {
      {"uniform", [] { return std::make_unique<dp::UniformSampler>(dp::all_indices(37), 7); }},
      {"shuffle", [] { return std::make_unique<dp::ShuffleSampler>(dp::all_indices(37), 7); }},
      {"rcs", [] { return std::make_unique<dp::RareClassSampler>(
                       dp::RareClassTable::build(per_image_counts(), 0.01, 10), 7); }},
      {"class_balanced", [cls] { return std::make_unique<dp::ClassBalancedSampler>(
                                     cls, dp::all_indices(60), std::vector<int64_t>{0, 1, 2, 3}, 3, 7); }},
  };
}

class SamplerProperty : public ::testing::TestWithParam<std::string> {};

TEST_P(SamplerProperty, RankUnionEqualsSingleRankGlobalBatch) {
  auto f = factories().at(GetParam());
  for (int world : {2, 3, 4}) {
    const int b = 3;
    auto single = f();
    std::vector<std::unique_ptr<dp::Sampler>> ranks;
    for (int r = 0; r < world; ++r) ranks.push_back(f());
    for (int64_t step = 0; step < 25; ++step) {
      std::vector<int64_t> global = rank_batch(*single, step, 0, 1, world * b);
      std::vector<int64_t> uni;
      for (int r = 0; r < world; ++r) {
        auto part = rank_batch(*ranks[r], step, r, world, b);
        // Rank r holds global slots r, r+W, r+2W, ...
        for (int j = 0; j < b; ++j) EXPECT_EQ(part[j], global[j * world + r]) << "world " << world;
        uni.insert(uni.end(), part.begin(), part.end());
      }
      std::sort(uni.begin(), uni.end());
      std::sort(global.begin(), global.end());
      EXPECT_EQ(uni, global);
    }
  }
}

TEST_P(SamplerProperty, ResumeFromSavedStepContinuesIdentically) {
  auto f = factories().at(GetParam());
  auto a = f();
  std::vector<std::vector<int64_t>> full;
  for (int64_t t = 0; t < 30; ++t) full.push_back(rank_batch(*a, t, 1, 2, 4));
  // A fresh sampler restored at step 17 (state = step; nothing else needed).
  auto b = f();
  for (int64_t t = 17; t < 30; ++t) EXPECT_EQ(rank_batch(*b, t, 1, 2, 4), full[t]) << "step " << t;
  // Different steps differ somewhere (the stream is not constant).
  std::set<std::vector<int64_t>> distinct(full.begin(), full.end());
  EXPECT_GT(distinct.size(), 10u);
}

TEST_P(SamplerProperty, SeedChangesTheStream) {
  auto f = factories().at(GetParam());
  auto a = f();
  std::unique_ptr<dp::Sampler> b;
  if (GetParam() == "uniform") b = std::make_unique<dp::UniformSampler>(dp::all_indices(37), 8);
  else if (GetParam() == "shuffle") b = std::make_unique<dp::ShuffleSampler>(dp::all_indices(37), 8);
  else if (GetParam() == "rcs") b = std::make_unique<dp::RareClassSampler>(dp::RareClassTable::build(per_image_counts(), 0.01, 10), 8);
  else {
    std::vector<int64_t> cls;
    for (int i = 0; i < 60; ++i) cls.push_back(i % 4);
    b = std::make_unique<dp::ClassBalancedSampler>(cls, dp::all_indices(60), std::vector<int64_t>{0, 1, 2, 3}, 3, 8);
  }
  int differ = 0;
  for (int64_t t = 0; t < 20; ++t) differ += rank_batch(*a, t, 0, 1, 4) != rank_batch(*b, t, 0, 1, 4);
  EXPECT_GT(differ, 10);
}

INSTANTIATE_TEST_SUITE_P(All, SamplerProperty,
                         ::testing::Values("uniform", "shuffle", "rcs", "class_balanced"));

TEST(ShuffleSampler, EveryEpochIsAPermutationWhateverTheRankLayout) {
  const int n = 23;
  for (int world : {1, 2, 5}) {
    dp::ShuffleSampler s(dp::all_indices(n), 11);
    // 3 epochs: count how often each index appears per epoch via positions.
    std::map<int64_t, std::multiset<int64_t>> per_epoch;
    const int b = 2;
    const int64_t B = world * b;
    for (int64_t step = 0; step * B < 3 * n; ++step)
      for (int r = 0; r < world; ++r)
        for (int j = 0; j < b; ++j) {
          const int64_t p = step * B + dp::global_slot(r, world, j);
          if (p >= 3 * n) continue;
          per_epoch[p / n].insert(s.draw({step, dp::global_slot(r, world, j), p}).index);
        }
    for (auto& [e, set] : per_epoch) {
      ASSERT_EQ(set.size(), static_cast<size_t>(n));
      for (int i = 0; i < n; ++i) EXPECT_EQ(set.count(i), 1u) << "epoch " << e << " world " << world;
    }
  }
  dp::ShuffleSampler s(dp::all_indices(n), 11);
  EXPECT_NE(s.epoch_order(0), s.epoch_order(1));
}

TEST(SequentialSampler, OnePassInOrder) {
  dp::SequentialSampler s({5, 3, 9});
  EXPECT_EQ(s.length(), 3);
  EXPECT_EQ(s.draw({0, 0, 0}).index, 5);
  EXPECT_EQ(s.draw({1, 0, 2}).index, 9);
  EXPECT_THROW(s.draw({1, 1, 3}), std::out_of_range);
}

TEST(UniformSampler, DrawsFromThePoolOnly) {
  dp::UniformSampler s({4, 8, 15}, 1);
  std::map<int64_t, int> hist;
  for (int64_t t = 0; t < 3000; ++t) hist[s.draw({t, 0, t}).index]++;
  ASSERT_EQ(hist.size(), 3u);
  for (auto& [i, n] : hist) EXPECT_NEAR(n, 1000, 120) << i;  // ~4 sigma
}

TEST(ClassBalancedSampler, SameClassInEverySlotAcrossDomains) {
  // 2 domains, 5 classes; domain 1 lacks class 4.
  std::vector<int64_t> cls;
  std::vector<int> dom;
  for (int i = 0; i < 100; ++i) {
    dom.push_back(i % 2);
    cls.push_back(dom.back() == 1 && (i / 2) % 5 == 4 ? 3 : (i / 2) % 5);
  }
  auto p0 = dp::indices_of_domain(dom, 0), p1 = dp::indices_of_domain(dom, 1);
  auto shared = dp::shared_classes(cls, {p0, p1});
  EXPECT_EQ(shared, (std::vector<int64_t>{0, 1, 2, 3}));
  dp::ClassBalancedSampler s0(cls, p0, shared, 99, 1), s1(cls, p1, shared, 99, 2);
  std::set<int64_t> seen;
  for (int64_t t = 0; t < 50; ++t)
    for (int64_t k = 0; k < 4; ++k) {
      auto a = s0.draw({t, k, t * 4 + k}).index, b = s1.draw({t, k, t * 4 + k}).index;
      EXPECT_EQ(dom[a], 0);
      EXPECT_EQ(dom[b], 1);
      EXPECT_EQ(cls[a], cls[b]);
      seen.insert(cls[a]);
    }
  EXPECT_EQ(seen.size(), 4u);
}

TEST(ClassBalancedSampler, OneHotStatsGiveClasses) {
  uda::data::ClassStats st;
  st.per_image = {{0, 1, 0}, {1, 0, 0}, {0, 0, 0}};
  EXPECT_EQ(dp::sample_classes(st), (std::vector<int64_t>{1, 0, -1}));
}

}  // namespace
