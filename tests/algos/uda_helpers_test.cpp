// DACS/DAFormer helpers against the official outputs in golden.h5:
// /helpers/downscale (downscale_label_ratio), /helpers/fd (calc_feat_dist)
// and /helpers/pseudo_weight (the pseudo-label lines of forward_train).
#include "algos/seg/uda_helpers.h"

#include "golden_reader.h"

#include <cmath>

namespace {

using uda::test::GoldenFile;

TEST(DownscaleLabelRatio, EveryGoldenCase) {
  GoldenFile f;
  ASSERT_TRUE(f.ok());
  const auto cases = f.children("/helpers/downscale");
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    const std::string g = "/helpers/downscale/" + c;
    auto gt = f.tensor(g + "/gt", torch::kInt64);
    auto expected = f.tensor(g + "/output", torch::kInt64);
    auto out = uda::algos::downscale_label_ratio(gt, f.attr_int64(g, "scale_factor"), f.attr_double(g, "min_ratio"),
                                                 f.attr_int64(g, "n_classes"), f.attr_int64(g, "ignore_index"));
    ASSERT_EQ(out.sizes(), expected.sizes()) << c;
    EXPECT_EQ(out.dtype(), torch::kInt64);
    EXPECT_TRUE(out.equal(expected)) << c;
  }
}

TEST(FeatureDistance, EveryGoldenCase) {
  GoldenFile f;
  ASSERT_TRUE(f.ok());
  const auto cases = f.children("/helpers/fd");
  ASSERT_FALSE(cases.empty());
  // The class count of the set's networks (the helper cases do not repeat it).
  const int64_t num_classes = f.attr_int64("/daformer", "num_classes");
  for (const auto& c : cases) {
    SCOPED_TRACE(c);
    const std::string g = "/helpers/fd/" + c;
    auto feat = f.tensor(g + "/feat_model", torch::kFloat32);
    auto feat_imnet = f.tensor(g + "/feat_imnet", torch::kFloat32);
    auto gt = f.tensor(g + "/gt", torch::kInt64);
    const auto classes = f.attr_int64_array(g, "fdist_classes");
    const double lambda = f.attr_double(g, "fdist_lambda");
    const double min_ratio = f.attr_double(g, "fdist_scale_min_ratio");

    auto dist = uda::algos::pixel_feature_distance(feat, feat_imnet);
    auto exp_dist = f.tensor(g + "/pixel_dist", torch::kFloat32);
    EXPECT_TRUE(torch::allclose(dist, exp_dist, 1e-6, 1e-6));

    auto r = uda::algos::thing_class_feature_distance(feat, feat_imnet, gt, classes, min_ratio, num_classes,
                                                      lambda, uda::algos::EmptyFeatureDistance::NaN);
    EXPECT_EQ(gt.size(-1) / feat.size(-1), f.attr_int64(g, "scale_factor"));
    EXPECT_TRUE(r.gt_rescaled.equal(f.tensor(g + "/gt_rescaled", torch::kInt64)));
    EXPECT_TRUE(r.mask.to(torch::kUInt8).equal(f.tensor(g + "/fdist_mask", torch::kUInt8)));
    const float expected = f.tensor(g + "/loss", torch::kFloat32).item<float>();
    const float got = r.loss.item<float>();
    if (std::isnan(expected)) {  // an empty mask: the official mean of nothing
      EXPECT_TRUE(std::isnan(got)) << "the 'nan' option reproduces the official NaN";
      EXPECT_EQ(r.selected, 0);
    } else {
      EXPECT_NEAR(got, expected, 1e-6 * std::abs(expected) + 1e-9);
      EXPECT_GT(r.selected, 0);
    }
  }
}

TEST(FeatureDistance, EmptyMaskIsNaNOfficiallyAndZeroByDefault) {
  auto feat = torch::randn({1, 4, 2, 2});
  auto ref = torch::randn({1, 4, 2, 2});
  auto gt = torch::full({1, 1, 8, 8}, 0, torch::kLong);  // no thing class anywhere
  auto official = uda::algos::thing_class_feature_distance(feat, ref, gt, {6}, 0.75, 19, 0.5,
                                                           uda::algos::EmptyFeatureDistance::NaN);
  EXPECT_TRUE(std::isnan(official.loss.item<float>()));
  // uda's default: no selected pixel, no loss (docs/ALGORITHMS.md).
  auto z = uda::algos::thing_class_feature_distance(feat, ref, gt, {6}, 0.75, 19, 0.5);
  EXPECT_EQ(z.loss.item<float>(), 0.0f);
  EXPECT_EQ(z.selected, 0);
}

TEST(FeatureDistance, GradientFlowsOnlyIntoStudentFeatures) {
  auto feat = torch::randn({1, 4, 2, 2}, torch::requires_grad());
  auto ref = torch::randn({1, 4, 2, 2});
  auto gt = torch::full({1, 1, 8, 8}, 6, torch::kLong);  // all "thing"
  auto r = uda::algos::thing_class_feature_distance(feat, ref, gt, {6}, 0.75, 19, 0.5);
  r.loss.backward();
  ASSERT_TRUE(feat.grad().defined());
  EXPECT_EQ(r.selected, 4);
}

TEST(PseudoLabels, GoldenCaseWithAndWithoutCrop) {
  GoldenFile f;
  ASSERT_TRUE(f.ok());
  for (const auto& c : f.children("/helpers/pseudo_weight")) {
    SCOPED_TRACE(c);
    const std::string g = "/helpers/pseudo_weight/" + c;
    auto logits = f.tensor(g + "/ema_logits", torch::kFloat32);
    const double tau = f.attr_double(g, "pseudo_threshold");
    auto r = uda::algos::pseudo_labels_from_logits(logits, tau, 0, 0);
    EXPECT_TRUE(r.label.equal(f.tensor(g + "/pseudo_label", torch::kInt64)));
    EXPECT_TRUE(torch::allclose(r.prob, f.tensor(g + "/pseudo_prob", torch::kFloat32), 1e-6, 1e-7));
    EXPECT_EQ(r.weight_scalar, f.tensor(g + "/weight_scalar", torch::kFloat64).item<double>());
    EXPECT_TRUE(r.weight.equal(f.tensor(g + "/pseudo_weight", torch::kFloat32)));
    // DAFormer experiment config: pseudo_weight_ignore_top 15, bottom 120
    // (the public set's README; a set may state them as attributes).
    const int64_t top = f.has_attr(g, "pseudo_weight_ignore_top") ? f.attr_int64(g, "pseudo_weight_ignore_top") : 15;
    const int64_t bottom =
        f.has_attr(g, "pseudo_weight_ignore_bottom") ? f.attr_int64(g, "pseudo_weight_ignore_bottom") : 120;
    auto crop = uda::algos::pseudo_labels_from_logits(logits, tau, top, bottom);
    EXPECT_TRUE(crop.weight.equal(f.tensor(g + "/pseudo_weight_croppl", torch::kFloat32)));
    EXPECT_EQ(crop.weight_scalar, r.weight_scalar);
  }
}

TEST(PseudoLabels, OneScalarForTheBatchAndCropClamps) {
  // Image 0 fully confident, image 1 not at all: one scalar 0.5 everywhere.
  auto logits = torch::zeros({2, 3, 4, 5});
  logits.select(0, 0).select(0, 1).fill_(20.0);
  auto r = uda::algos::pseudo_labels_from_logits(logits, 0.968, 0, 0);
  EXPECT_DOUBLE_EQ(r.weight_scalar, 0.5);
  EXPECT_TRUE(r.weight.eq(0.5f).all().item<bool>());
  // Crops larger than the map zero everything (Python slices clamp).
  auto c = uda::algos::pseudo_labels_from_logits(logits, 0.968, 10, 10);
  EXPECT_EQ(c.weight.sum().item<float>(), 0.0f);
}

}  // namespace
