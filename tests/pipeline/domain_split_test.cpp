// The DG view of a multi-domain dataset: in/out splits as DomainBed's
// misc.split_dataset, test domains by index or name, errors naming the key.
#include "core/config.h"
#include "core/error.h"
#include "core/numpy_random.h"
#include "data/pipeline/domain_split.h"
#include "data/pipeline/sampler.h"

#include <gtest/gtest.h>

namespace dp = uda::data::pipeline;
using nlohmann::json;

namespace {

uda::data::ClassStats three_domains(int per_domain) {
  uda::data::ClassStats s;
  s.class_names = {"a", "b"};
  s.domain_names = {"0", "15", "30"};
  for (int d = 0; d < 3; ++d)
    for (int i = 0; i < per_domain; ++i) s.image_domain.push_back(d);
  s.per_image.assign(s.image_domain.size(), {1, 0});
  return s;
}

uda::config::Config cfg(json data) { return uda::config::from_json({{"data", data}}, "dg.json"); }

TEST(DomainSplit, OutSplitIsDomainBedsShuffledPrefix) {
  auto stats = three_domains(50);
  auto s = dp::split_domains(cfg({{"test_domains", {"30"}}, {"split_seed", 4}}), stats, "ds");
  EXPECT_EQ(s.training_domains(), (std::vector<int>{0, 1}));
  EXPECT_EQ(s.test_domains(), (std::vector<int>{2}));
  namespace nr = uda::numpy_random;
  for (int d = 0; d < 3; ++d) {
    // int(50 * 0.2) = 10 keys out, shuffled by RandomState(seed_hash(4, d)).
    auto [out_keys, in_keys] = nr::split_keys(50, 10, nr::seed_hash({int64_t{4}, int64_t{d}}));
    ASSERT_EQ(s.out[d].size(), 10u);
    for (size_t k = 0; k < out_keys.size(); ++k) EXPECT_EQ(s.out[d][k], d * 50 + out_keys[k]);
    EXPECT_EQ(s.in[d].size(), 40u);
  }
  // Another trial seed, another split; the same seed, the same split.
  auto other = dp::split_domains(cfg({{"split_seed", 5}}), stats, "ds");
  EXPECT_NE(other.out[0], s.out[0]);
  EXPECT_EQ(dp::split_domains(cfg({{"split_seed", 4}}), stats, "ds").out[1], s.out[1]);
}

TEST(DomainSplit, BadInputNamesTheKey) {
  auto stats = three_domains(5);
  auto message = [&](json data, const uda::data::ClassStats& st) {
    try {
      dp::split_domains(cfg(data), st, "ds");
    } catch (const uda::UserError& e) {
      return uda::format_user_error(e);
    }
    return std::string("no error");
  };
  EXPECT_NE(message({{"test_domains", {7}}}, stats).find("test domain 7 does not exist"), std::string::npos);
  EXPECT_NE(message({{"test_domains", {"45"}}}, stats).find("unknown test domain '45'"), std::string::npos);
  EXPECT_NE(message({{"test_domains", {0, 1, 2}}}, stats).find("every domain is a test domain"), std::string::npos);
  EXPECT_NE(message({{"holdout_fraction", 1.0}}, stats).find("data.holdout_fraction"), std::string::npos);
  auto single = stats;
  single.domain_names = {"only"};
  single.image_domain.assign(single.image_domain.size(), 0);
  EXPECT_NE(message(json::object(), single).find("has no domains"), std::string::npos);
}

}  // namespace
