// SYNTHIA-RAND-CITYSCAPES (Ros et al. 2016): RGB/NNNNNNN.png and
// GT/LABELS/NNNNNNN.png, 16-bit, class id in the first channel (DAFormer's
// converter reads cv2's last = the PNG's first channel). Default resize
// 1280x760 as DAFormer's uda_synthia_to_cityscapes config.
#include "core/error.h"
#include "data/convert/registry.h"
#include "data/convert/segmentation_item.h"

#include <filesystem>
#include <memory>

namespace uda::data {

ConversionPlan plan_synthia(const ConvertOptions& o) {
  namespace fs = std::filesystem;
  auto images = list_files(o.src + "/RGB", ".png", false);
  if (!fs::is_directory(o.src + "/GT/LABELS"))
    throw UserError("SYNTHIA layout: no GT/LABELS directory", o.src, "expected RGB/*.png and GT/LABELS/*.png");
  auto sources = std::make_shared<std::vector<SegmentationSource>>();
  for (const auto& path : images) {
    std::string file = fs::path(path).filename().string();
    sources->push_back({fs::path(path).stem().string(), path, o.src + "/GT/LABELS/" + file, 0});
  }
  auto size = resize_target(o.resize, std::make_pair(1280, 760));
  ConversionPlan plan;
  plan.task = Task::kSegmentation;
  plan.class_names = cityscapes_class_names();
  plan.domain_names = {"synthia"};
  plan.split = o.split.empty() ? "train" : o.split;
  plan.num_items = sources->size();
  bool lenient = o.lenient_labels;
  plan.produce = [sources, size, lenient](size_t i) {
    return make_segmentation_sample((*sources)[i], synthia_label_map(), lenient, size, 19);
  };
  plan.provenance = {{"converter", "synthia"},
                     {"source", fs::absolute(o.src).string()},
                     {"options", {{"resize", size ? std::to_string(size->first) + "x" + std::to_string(size->second) : "none"},
                                  {"lenient_labels", lenient}}},
                     {"label_map", "SYNTHIA ids -> Cityscapes trainIds (DAFormer tools/convert_datasets/synthia.py)"}};
  return plan;
}

}  // namespace uda::data
