// Loaders built from config: DAFormer's GTA->Cityscapes settings are
// expressible, and the factory wires samplers and streams.
#include "core/config.h"
#include "core/error.h"
#include "data/pipeline/loader_config.h"
#include "tests/pipeline/memory_source.h"

#include <gtest/gtest.h>

namespace dp = uda::data::pipeline;
namespace cfg = uda::config;
using nlohmann::json;

namespace {

cfg::Config daformer_config() {
  json doc = {
      {"train", {{"seed", 0}}},
      {"data",
       {{"batch_per_rank", 2},
        {"workers", 2},
        {"source",
         {{"path", "data/gta"},
          {"img_scale", {1280, 720}},
          {"crop_size", {512, 512}},
          {"cat_max_ratio", 0.75},
          {"flip_prob", 0.5},
          {"sampler", "rcs"},
          {"rcs", {{"temperature", 0.01}, {"min_pixels", 3000}, {"min_crop_ratio", 0.5}}}}},
        {"target", {{"path", "data/cityscapes"}, {"img_scale", {1024, 512}}, {"sampler", "uniform"}}},
        {"val", {{"path", "data/cityscapes_val"}, {"img_scale", {1024, 512}}}}}},
  };
  return cfg::from_json(doc, "test.json");
}

TEST(LoaderConfig, DaformerGtaToCityscapesIsExpressible) {
  auto c = daformer_config();
  auto s = dp::transform_config(c, "source");
  auto ref = dp::TransformConfig::daformer_gta_train();
  EXPECT_EQ(s.img_scale, ref.img_scale);
  EXPECT_EQ(s.crop_size, ref.crop_size);
  EXPECT_EQ(s.cat_max_ratio, ref.cat_max_ratio);
  EXPECT_EQ(s.flip_prob, ref.flip_prob);
  EXPECT_EQ(s.mean, ref.mean);
  EXPECT_EQ(s.std, ref.std);
  EXPECT_FALSE(s.ratio_range.has_value());
  auto t = dp::transform_config(c, "target");
  EXPECT_EQ(t.img_scale, (std::array<int, 2>{1024, 512}));
  EXPECT_EQ(t.crop_size, (std::array<int, 2>{512, 512}));  // default of training streams
  auto v = dp::transform_config(c, "val");
  EXPECT_EQ(v.crop_size, (std::array<int, 2>{0, 0}));
  EXPECT_EQ(v.flip_prob, 0.0);
  EXPECT_FALSE(v.resize_label);
}

TEST(LoaderConfig, BadValuesAreUserErrors) {
  json doc = {{"data", {{"source", {{"crop_size", {512}}}}}}};
  auto c = cfg::from_json(doc, "bad.json");
  EXPECT_THROW(dp::transform_config(c, "source"), uda::UserError);
  json doc2 = {{"data", {{"source", {{"sampler", "rcs"}}}}}};
  auto c2 = cfg::from_json(doc2, "bad2.json");
  auto src = std::make_shared<uda::test::MemorySource>(4, 16, 16);
  EXPECT_THROW(dp::make_loader(c2, "source", src, nullptr, 0, 1), uda::UserError);  // RCS without statistics
}

TEST(LoaderConfig, FactoryBuildsWorkingStreams) {
  json doc = {{"data",
               {{"batch_per_rank", 2},
                {"workers", 2},
                {"source", {{"crop_size", {16, 16}}, {"sampler", "rcs"}, {"rcs", {{"min_pixels", 3}}}}},
                {"target", {{"crop_size", {16, 16}}, {"sampler", "uniform"}}},
                {"val", json::object()}}}};
  auto c = cfg::from_json(doc, "small.json");
  auto src = std::make_shared<uda::test::MemorySource>(6, 24, 32);
  uda::data::ClassStats stats;
  stats.domain_names = {"a", "b"};
  for (int i = 0; i < 6; ++i) {
    auto s = src->read(i);
    std::vector<int64_t> row(6, 0);
    for (uint8_t l : s.label.pixels)
      if (l < 6) row[l]++;
    stats.per_image.push_back(row);
    stats.image_domain.push_back(s.domain);
  }
  auto source = dp::make_loader(c, "source", src, &stats, 0, 1);
  auto b = source->next();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->size, 2);
  EXPECT_EQ(b->height, 16);
  EXPECT_GE(b->rare_class[0], 0);
  auto target = dp::make_loader(c, "target", src, nullptr, 1, 2);
  EXPECT_EQ(target->next()->size, 2);
  auto val = dp::make_loader(c, "val", src, nullptr, 0, 1);
  int n = 0;
  while (auto vb = val->next()) n += vb->size;
  EXPECT_EQ(n, 6);
  // DG: one loader per training domain over its in split; domain 1 held out.
  doc["data"]["test_domains"] = {1};
  doc["data"]["holdout_fraction"] = 0.34;
  doc["data"]["source"]["sampler"] = "uniform";
  auto dg = cfg::from_json(doc, "dg.json");
  auto split = dp::split_domains(dg, stats, "mem");
  EXPECT_EQ(split.training_domains(), std::vector<int>{0});
  auto per_domain = dp::make_domain_loaders(dg, src, stats, split, 0, 1);
  ASSERT_EQ(per_domain.size(), 1u);
  for (int step = 0; step < 4; ++step) {
    auto db = per_domain[0]->next();
    for (int j = 0; j < db->size; ++j) {
      EXPECT_EQ(db->domains[j], 0);
      EXPECT_NE(std::find(split.in[0].begin(), split.in[0].end(), db->indices[j]), split.in[0].end())
          << "sample " << db->indices[j] << " is not in the in split";
    }
  }
  // Every sample of a domain is in exactly one of its splits.
  for (int d = 0; d < 2; ++d) {
    auto all = split.in[d];
    all.insert(all.end(), split.out[d].begin(), split.out[d].end());
    std::sort(all.begin(), all.end());
    EXPECT_EQ(all, dp::indices_of_domain(stats.image_domain, d));
  }
}

}  // namespace
