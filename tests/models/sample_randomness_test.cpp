// Per-sample randomness of uda's stochastic layers: a sample's mask depends
// on its key and the call number only, not on the batch it is in.
#include "models/layers/sample_randomness.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace uda::models {
namespace {

TEST(SampleRandomness, MaskOfASampleDoesNotDependOnItsBatch) {
  auto x = torch::ones({3, 4, 5, 6});
  torch::Tensor all, alone;
  {
    SampleKeyScope scope({11, 22, 33});
    all = sample_dropout(x, 0.5, true);
  }
  {
    SampleKeyScope scope({22});  // the middle sample computed alone (another rank)
    alone = sample_dropout(x.narrow(0, 0, 1), 0.5, true);
  }
  EXPECT_TRUE(all[1].equal(alone[0]));
  EXPECT_FALSE(all[0].equal(all[1]));  // different samples, different masks
  // Inverted dropout: kept elements scaled by 1/(1-p), about half kept.
  auto kept = (all > 0).to(torch::kDouble).mean().item<double>();
  EXPECT_NEAR(kept, 0.5, 0.1);
  EXPECT_TRUE(((all == 0) | (all == 2)).all().item<bool>());
}

TEST(SampleRandomness, SuccessiveCallsDrawAgainAndScopesRepeat) {
  auto x = torch::ones({2, 64});
  torch::Tensor a1, a2, b1;
  {
    SampleKeyScope scope({5, 6});
    a1 = sample_dropout(x, 0.5, true);
    a2 = sample_dropout(x, 0.5, true);
  }
  {
    SampleKeyScope scope({5, 6});
    b1 = sample_dropout(x, 0.5, true);
  }
  EXPECT_FALSE(a1.equal(a2));  // the second call of a scope draws anew
  EXPECT_TRUE(a1.equal(b1));   // the same keys and call number draw the same
}

TEST(SampleRandomness, Dropout2dDropsWholeChannelsAndDropPathWholeSamples) {
  SampleKeyScope scope({1, 2, 3, 4});
  auto x = torch::ones({4, 32, 3, 3});
  auto y = sample_dropout2d(x, 0.5, true);
  auto per_channel = y.amax({2, 3}) - y.amin({2, 3});
  EXPECT_EQ(per_channel.abs().max().item<float>(), 0.0f);
  auto m = sample_drop_path_mask(x, 0.25, true);
  ASSERT_EQ(m.sizes(), (std::vector<int64_t>{4, 1, 1, 1}));
  EXPECT_TRUE(((m == 0) | (m.sub(1.0 / 0.75).abs() < 1e-6)).all().item<bool>());
  // Eval mode and rate 0: identity / no mask, and no draw.
  EXPECT_TRUE(sample_dropout(x, 0.5, false).equal(x));
  EXPECT_FALSE(sample_drop_path_mask(x, 0.0, true).defined());
}

TEST(SampleRandomness, MisuseIsReported) {
  auto x = torch::ones({2, 8});
  {
    SampleKeyScope scope({1, 2, 3});
    EXPECT_THROW(sample_dropout(x, 0.5, true), std::logic_error);  // 2 rows, 3 keys
  }
  require_sample_keys(true);
  EXPECT_THROW(sample_dropout(x, 0.5, true), std::logic_error);  // a worker forgot its scope
  EXPECT_NO_THROW(sample_dropout(x, 0.5, false));                // eval mode draws nothing
  require_sample_keys(false);
  EXPECT_NO_THROW(sample_dropout(x, 0.5, true));  // library use: torch's generator
}

}  // namespace
}  // namespace uda::models
