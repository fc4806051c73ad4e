// The prefetching loader: deterministic batches whatever the thread count,
// rank-union invariance, exact resume, RCS crop retry, error propagation and
// shutdown.
#include "core/error.h"
#include "data/pipeline/basic_samplers.h"
#include "data/pipeline/image_transforms.h"
#include "data/pipeline/loader.h"
#include "data/pipeline/rare_class_sampler.h"
#include "tests/pipeline/memory_source.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>

namespace dp = uda::data::pipeline;
using uda::test::MemorySource;

namespace {

dp::TransformConfig train_cfg() {
  dp::TransformConfig c;
  c.img_scale = {96, 48};
  c.ratio_range = std::array<double, 2>{0.8, 1.5};
  c.crop_size = {32, 32};
  c.cat_max_ratio = 0.75;
  c.flip_prob = 0.5;
  c.randaug_n = 2;
  c.randaug_m = 10;
  c.mean = {120, 110, 100};
  c.std = {60, 55, 50};
  return c;
}

dp::LoaderOptions opts(int threads, int rank = 0, int world = 1, int batch = 3) {
  dp::LoaderOptions o;
  o.name = "source";
  o.seed = 42;
  o.threads = threads;
  o.rank = rank;
  o.world = world;
  o.batch = batch;
  o.prefetch = 3;
  return o;
}

struct Flat {
  std::vector<int64_t> idx;
  std::vector<float> img;
  std::vector<uint8_t> lab;
  bool operator==(const Flat& o) const { return idx == o.idx && img == o.img && lab == o.lab; }
};

Flat flat(const dp::HostBatch& b) {
  Flat f;
  f.idx = b.indices;
  f.img.assign(b.images.get(), b.images.get() + b.image_elements());
  f.lab.assign(b.labels.get(), b.labels.get() + b.label_elements());
  return f;
}

// Sample j of a batch as its own Flat.
Flat sample_of(const dp::HostBatch& b, int j) {
  Flat f;
  f.idx = {b.indices[j]};
  const size_t ip = size_t{3} * b.height * b.width, lp = size_t{1} * b.label_height * b.label_width;
  f.img.assign(b.images.get() + j * ip, b.images.get() + (j + 1) * ip);
  f.lab.assign(b.labels.get() + j * lp, b.labels.get() + (j + 1) * lp);
  return f;
}

std::vector<Flat> run(int threads, int steps, dp::SamplerState start = {}) {
  auto src = std::make_shared<MemorySource>(20, 48, 96);
  dp::Loader loader(src, std::make_shared<dp::ShuffleSampler>(dp::all_indices(20), 7), train_cfg(), opts(threads),
                    start);
  std::vector<Flat> out;
  for (int s = 0; s < steps; ++s) {
    auto b = loader.next();
    EXPECT_TRUE(b.has_value());
    EXPECT_EQ(b->step, start.step + s);
    out.push_back(flat(*b));
  }
  return out;
}

TEST(Loader, OneAndFourThreadsGiveIdenticalBatches) {
  auto a = run(1, 12), b = run(4, 12);
  ASSERT_EQ(a.size(), b.size());
  for (size_t s = 0; s < a.size(); ++s) EXPECT_TRUE(a[s] == b[s]) << "step " << s;
  // And the batches are not all alike (augmentation is really random).
  EXPECT_FALSE(a[0].img == a[1].img);
}

TEST(Loader, BatchLayoutIsNormalisedChwWithLabels) {
  auto src = std::make_shared<MemorySource>(4, 48, 96);
  auto cfg = train_cfg();
  cfg.ratio_range.reset();
  cfg.randaug_n = 0;
  cfg.flip_prob = 0;
  cfg.img_scale = {0, 0};
  cfg.crop_size = {48, 96};  // the whole image: the crop is the identity
  dp::Loader loader(src, std::make_shared<dp::SequentialSampler>(dp::all_indices(4)), cfg, opts(2, 0, 1, 2));
  auto b = loader.next();
  ASSERT_TRUE(b);
  ASSERT_EQ(b->size, 2);
  EXPECT_EQ(b->height, 48);
  EXPECT_EQ(b->width, 96);
  auto s1 = src->read(1);
  EXPECT_EQ(b->names[1], "img1");
  EXPECT_EQ(b->domains[1], 1);
  for (int c = 0; c < 3; ++c) {
    const float v = b->image(1)[(c * 48 + 5) * 96 + 7];
    EXPECT_NEAR(v, (s1.image.pixels[(5 * 96 + 7) * 3 + c] - cfg.mean[c]) / cfg.std[c], 1e-5);
  }
  EXPECT_EQ(0, std::memcmp(b->label(1), s1.label.pixels.data(), 48 * 96));
  EXPECT_TRUE(loader.next());
  EXPECT_FALSE(loader.next());  // 4 samples, batch 2: two steps
}

TEST(Loader, RanksTogetherEqualOneRankWithTheGlobalBatch) {
  auto src = std::make_shared<MemorySource>(20, 48, 96);
  const int W = 2, b = 2;
  auto sampler = [] { return std::make_shared<dp::UniformSampler>(dp::all_indices(20), 7); };
  dp::Loader single(src, sampler(), train_cfg(), opts(2, 0, 1, W * b));
  std::vector<std::unique_ptr<dp::Loader>> ranks;
  for (int r = 0; r < W; ++r) ranks.push_back(std::make_unique<dp::Loader>(src, sampler(), train_cfg(), opts(1, r, W, b)));
  for (int step = 0; step < 5; ++step) {
    auto g = single.next();
    for (int r = 0; r < W; ++r) {
      auto part = ranks[r]->next();
      for (int j = 0; j < b; ++j)
        EXPECT_TRUE(sample_of(*part, j) == sample_of(*g, j * W + r)) << "step " << step << " rank " << r;
    }
  }
}

TEST(Loader, StateRestoreContinuesIdentically) {
  auto full = run(3, 10);
  // Stop after 4 steps, save, and resume in a new loader.
  dp::SamplerState saved;
  {
    auto src = std::make_shared<MemorySource>(20, 48, 96);
    dp::Loader loader(src, std::make_shared<dp::ShuffleSampler>(dp::all_indices(20), 7), train_cfg(), opts(2));
    for (int s = 0; s < 4; ++s) loader.next();
    saved = loader.state();
  }  // destroyed with prefetched steps in flight
  EXPECT_EQ(saved.step, 4);
  EXPECT_EQ(saved.position, 12);
  EXPECT_EQ(dp::SamplerState::from_json(saved.to_json()), saved);
  auto resumed = run(1, 6, saved);
  for (int s = 0; s < 6; ++s) EXPECT_TRUE(resumed[s] == full[4 + s]) << "step " << 4 + s;
  // restore() on a live loader rewinds.
  auto src = std::make_shared<MemorySource>(20, 48, 96);
  dp::Loader loader(src, std::make_shared<dp::ShuffleSampler>(dp::all_indices(20), 7), train_cfg(), opts(2));
  for (int s = 0; s < 7; ++s) loader.next();
  loader.restore({2, 6});
  EXPECT_TRUE(flat(*loader.next()) == full[2]);
}

TEST(Loader, EvaluationPassShardsEverySampleOnceAndPadsVariableSizes) {
  // 5 samples over 2 ranks with batch 2: rank 0 gets 0,2 | 4 ; rank 1 gets 1,3 | (empty).
  auto src = std::make_shared<MemorySource>(5, 40, 60);
  auto cfg = dp::TransformConfig::daformer_cityscapes_test();
  cfg.img_scale = {30, 20};  // image downscaled, labels at full resolution
  std::vector<int64_t> seen;
  for (int r = 0; r < 2; ++r) {
    dp::Loader l(src, std::make_shared<dp::SequentialSampler>(dp::all_indices(5)), cfg, opts(2, r, 2, 2));
    int steps = 0;
    while (auto b = l.next()) {
      ++steps;
      for (int j = 0; j < b->size; ++j) {
        seen.push_back(b->indices[j]);
        EXPECT_EQ(b->image_sizes[j], (std::array<int, 2>{20, 30}));
        EXPECT_EQ(b->label_sizes[j], (std::array<int, 2>{40, 60}));
      }
      if (b->size) {
        EXPECT_EQ(b->height, 20);
        EXPECT_EQ(b->label_height, 40);
      }
    }
    EXPECT_EQ(steps, 2);
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 1, 2, 3, 4}));
}

TEST(Loader, RareClassCropRetryFavoursCropsWithTheClass) {
  // The rare class (5) is an 11x12 blob in the top-right corner of 48x96
  // images; few 32x32 crops contain it without the retry.
  auto src = std::make_shared<MemorySource>(8, 48, 96);
  std::vector<std::vector<int64_t>> counts(8, std::vector<int64_t>(6, 0));
  for (int i = 0; i < 8; ++i) {
    auto s = src->read(i);
    for (uint8_t v : s.label.pixels)
      if (v < 6) counts[i][v]++;
  }
  auto table = dp::RareClassTable::build(counts, 0.01, 3);
  auto cfg = train_cfg();
  cfg.img_scale = {0, 0};
  cfg.ratio_range.reset();
  cfg.randaug_n = 0;
  cfg.crop_size = {32, 32};
  cfg.cat_max_ratio = 1.0;
  auto hits = [&](double ratio) {
    auto o = opts(2, 0, 1, 4);
    o.rcs_min_pixels = 3;
    o.rcs_min_crop_ratio = ratio;
    dp::Loader l(src, std::make_shared<dp::RareClassSampler>(table, 1), cfg, o);
    int with = 0, rare = 0;
    for (int s = 0; s < 40; ++s) {
      auto b = l.next();
      for (int j = 0; j < b->size; ++j) {
        if (b->rare_class[j] != 5) continue;
        ++rare;
        int64_t n = 0;
        for (size_t k = 0; k < size_t{32} * 32; ++k) n += b->label(j)[k] == 5;
        with += n > 3;  // more than min_pixels * ratio (= 3) pixels
      }
    }
    EXPECT_GT(rare, 100);  // T = 0.01 makes class 5 dominate
    return static_cast<double>(with) / rare;
  };
  const double off = hits(0.0), on = hits(1.0);
  // About 12% of single crops hold the blob; 11 tries raise it to ~75%.
  EXPECT_LT(off, 0.3);
  EXPECT_GT(on, 0.55);
  EXPECT_GT(on, off + 0.3);
}

TEST(Loader, WorkerErrorIsRethrownWithContextAndLoaderStaysFailed) {
  auto src = std::make_shared<MemorySource>(6, 48, 96);
  src->fail_ = {4};
  dp::Loader l(src, std::make_shared<dp::SequentialSampler>(dp::all_indices(6)), train_cfg(), opts(3, 0, 1, 2));
  EXPECT_TRUE(l.next());  // samples 0, 1
  EXPECT_TRUE(l.next());  // samples 2, 3
  try {
    l.next();
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("loader 'source'"), std::string::npos) << m;
    EXPECT_NE(m.find("sample 4"), std::string::npos) << m;
    EXPECT_NE(m.find("step 2"), std::string::npos) << m;
    EXPECT_NE(m.find("corrupt chunk"), std::string::npos) << m;
  }
  EXPECT_THROW(l.next(), std::runtime_error);
}

class UserErrorSource : public MemorySource {
 public:
  using MemorySource::MemorySource;
  uda::data::Sample read(size_t i) const override {
    if (i == 1) throw uda::UserError("shard checksum mismatch", "data/x/shard-00000.h5", "re-run uda convert");
    return MemorySource::read(i);
  }
};

TEST(Loader, UserErrorsKeepTheirTypeAndGainTheLocation) {
  auto src = std::make_shared<UserErrorSource>(4, 48, 96);
  dp::Loader l(src, std::make_shared<dp::SequentialSampler>(dp::all_indices(4)), train_cfg(), opts(2, 0, 1, 2));
  try {
    l.next();
    FAIL();
  } catch (const uda::UserError& e) {
    EXPECT_EQ(e.what_part(), "shard checksum mismatch");
    EXPECT_NE(e.where().find("sample 1"), std::string::npos);
    EXPECT_NE(e.where().find("shard-00000.h5"), std::string::npos);
    EXPECT_EQ(e.fix(), "re-run uda convert");
  }
}

// A source whose reads block until released: the loader must still shut
// down (threads finish their sample and exit) without deadlock.
class GatedSource : public MemorySource {
 public:
  using MemorySource::MemorySource;
  uda::data::Sample read(size_t i) const override {
    ++reads;
    return MemorySource::read(i);
  }
  mutable std::atomic<int> reads{0};
};

TEST(Loader, DestructionMidStreamAndStopAreClean) {
  auto src = std::make_shared<GatedSource>(50, 48, 96);
  {
    dp::Loader l(src, std::make_shared<dp::UniformSampler>(dp::all_indices(50), 3), train_cfg(), opts(4));
    l.next();
  }  // prefetched steps in flight: the destructor joins
  // The prefetch window bounds the work done ahead: at most (1 + prefetch) steps.
  EXPECT_LE(src->reads.load(), (1 + 3) * 3);
  dp::Loader l(src, std::make_shared<dp::UniformSampler>(dp::all_indices(50), 3), train_cfg(), opts(2));
  l.stop();
  EXPECT_THROW(l.next(), std::logic_error);
  // A custom allocator is used for the batch buffers.
  std::atomic<size_t> allocated{0};
  auto o = opts(1);
  o.allocator = [&](size_t bytes) {
    allocated += bytes;
    return dp::default_allocate(bytes);
  };
  dp::Loader l2(src, std::make_shared<dp::UniformSampler>(dp::all_indices(50), 3), train_cfg(), o);
  auto b = l2.next();
  EXPECT_GE(allocated.load(), b->image_elements() * sizeof(float) + b->label_elements());
}

}  // namespace
