#include "data/label_maps.h"

#include <utility>

namespace uda::data {

const std::vector<std::string>& cityscapes_class_names() {
  static const std::vector<std::string> names{
      "road",   "sidewalk", "building", "wall",  "fence", "pole",  "traffic light", "traffic sign", "vegetation", "terrain",
      "sky",    "person",   "rider",    "car",   "truck", "bus",   "train",         "motorcycle",   "bicycle"};
  return names;
}

namespace {
LabelMap build(std::initializer_list<std::pair<int, int>> pairs, int max_id) {
  LabelMap m;
  m.to_train_id.fill(255);
  for (auto [id, train] : pairs) m.to_train_id[static_cast<size_t>(id)] = static_cast<uint8_t>(train);
  m.max_source_id = max_id;
  return m;
}
}  // namespace

const LabelMap& cityscapes_label_map() {
  // labels.py: road 7, sidewalk 8, building 11, wall 12, fence 13, pole 17,
  // traffic light 19, traffic sign 20, vegetation 21, terrain 22, sky 23,
  // person 24, rider 25, car 26, truck 27, bus 28, train 31, motorcycle 32,
  // bicycle 33. Ids 0..33 are defined (license plate, -1, is never stored
  // in labelIds images); 255 is also accepted as "unlabelled".
  static const LabelMap m = build({{7, 0}, {8, 1}, {11, 2}, {12, 3}, {13, 4}, {17, 5}, {19, 6}, {20, 7}, {21, 8},
                                   {22, 9}, {23, 10}, {24, 11}, {25, 12}, {26, 13}, {27, 14}, {28, 15}, {31, 16},
                                   {32, 17}, {33, 18}},
                                  33);
  return m;
}

const LabelMap& synthia_label_map() {
  // SYNTHIA ids: 1 sky, 2 building, 3 road, 4 sidewalk, 5 fence, 6 vegetation,
  // 7 pole, 8 car, 9 traffic sign, 10 pedestrian, 11 bicycle, 12 motorcycle,
  // 15 traffic light, 17 rider, 19 bus, 21 wall; 0..22 are defined.
  static const LabelMap m = build({{3, 0}, {4, 1}, {2, 2}, {21, 3}, {5, 4}, {7, 5}, {15, 6}, {9, 7}, {6, 8}, {16, 9},
                                   {1, 10}, {10, 11}, {17, 12}, {8, 13}, {18, 14}, {19, 15}, {20, 16}, {12, 17},
                                   {11, 18}},
                                  22);
  return m;
}

}  // namespace uda::data
