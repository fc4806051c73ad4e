#include "worker/confusion_matrix.h"

#include <gtest/gtest.h>

#include <cmath>

TEST(ConfusionMatrix, IouMiouAccuracy) {
  uda::worker::ConfusionMatrix cm(3);
  const uint8_t gt[] = {0, 0, 1, 1, 255, 2};
  const int64_t pred[] = {0, 1, 1, 1, 2, 1};
  cm.add(gt, pred, 6);
  auto iou = cm.iou();
  EXPECT_DOUBLE_EQ(iou[0], 1.0 / 2);        // tp 1, gt 2, pred 1
  EXPECT_DOUBLE_EQ(iou[1], 2.0 / 4);        // tp 2, gt 2, pred 4
  EXPECT_DOUBLE_EQ(iou[2], 0.0);            // tp 0, gt 1, pred 0
  EXPECT_DOUBLE_EQ(cm.miou(), (0.5 + 0.5 + 0.0) / 3);
  EXPECT_DOUBLE_EQ(cm.accuracy(), 3.0 / 5);
}

TEST(ConfusionMatrix, AbsentClassIsNanAndExcludedFromMean) {
  uda::worker::ConfusionMatrix cm(4);
  cm.add(0, 0, 10);
  cm.add(1, 0, 10);
  auto iou = cm.iou();
  EXPECT_TRUE(std::isnan(iou[2]));
  EXPECT_DOUBLE_EQ(cm.miou(), (0.5 + 0.0) / 2);
  EXPECT_THROW(cm.add(4, 0), std::out_of_range);
  auto j = cm.to_json({"a", "b", "c", "d"});
  EXPECT_TRUE(j["per_class_iou"][2].is_null());
}
