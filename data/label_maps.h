// Label id -> Cityscapes train id tables of the segmentation converters.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace uda::data {

// The 19 Cityscapes evaluation classes, in train id order.
const std::vector<std::string>& cityscapes_class_names();

// A lookup table from a source label id to a train id (255 = ignore), and
// the largest id the source format defines (larger values are an error).
struct LabelMap {
  std::array<uint8_t, 65536> to_train_id;
  int max_source_id;
};

// Cityscapes label ids (as in *_gtFine_labelIds.png and GTA5's labels) ->
// train ids: cityscapesScripts/helpers/labels.py (the `trainId` column; ids
// whose trainId is 255 or -1 map to 255). GTA5 uses the same ids (DAFormer
// tools/convert_datasets/gta.py).
const LabelMap& cityscapes_label_map();
// SYNTHIA-RAND-CITYSCAPES class ids (first channel of GT/LABELS) -> train
// ids: DAFormer tools/convert_datasets/synthia.py (from the dataset's
// README.txt). The 16 classes shared with Cityscapes, plus the three entries
// DAFormer keeps that never occur in SYNTHIA (16 -> terrain, 18 -> truck,
// 20 -> train); everything else -> 255.
const LabelMap& synthia_label_map();

}  // namespace uda::data
