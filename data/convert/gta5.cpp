// GTA5 (Richter et al. 2016): <src>/images/NNNNN.png + <src>/labels/NNNNN.png
// with Cityscapes label ids. Default resize 1280x720 as DAFormer's
// configs/_base_/datasets/uda_gta_to_cityscapes_512x512.py (img_scale).
#include "core/error.h"
#include "data/convert/registry.h"
#include "data/convert/segmentation_item.h"

#include <filesystem>
#include <memory>

namespace uda::data {

ConversionPlan plan_gta5(const ConvertOptions& o) {
  namespace fs = std::filesystem;
  auto images = list_files(o.src + "/images", ".png", false);
  if (!fs::is_directory(o.src + "/labels"))
    throw UserError("GTA5 layout: no labels/ directory", o.src, "expected images/*.png and labels/*.png");
  auto sources = std::make_shared<std::vector<SegmentationSource>>();
  for (const auto& path : images) {
    std::string file = fs::path(path).filename().string();
    sources->push_back({fs::path(path).stem().string(), path, o.src + "/labels/" + file, 0});
  }
  auto size = resize_target(o.resize, std::make_pair(1280, 720));
  ConversionPlan plan;
  plan.task = Task::kSegmentation;
  plan.class_names = cityscapes_class_names();
  plan.domain_names = {"gta5"};
  plan.split = o.split.empty() ? "train" : o.split;
  plan.num_items = sources->size();
  bool lenient = o.lenient_labels;
  plan.produce = [sources, size, lenient](size_t i) {
    return make_segmentation_sample((*sources)[i], cityscapes_label_map(), lenient, size, 19);
  };
  plan.provenance = {{"converter", "gta5"},
                     {"source", fs::absolute(o.src).string()},
                     {"options", {{"resize", size ? std::to_string(size->first) + "x" + std::to_string(size->second) : "none"},
                                  {"lenient_labels", lenient}}},
                     {"label_map", "Cityscapes labelIds -> trainIds (cityscapesScripts labels.py)"}};
  return plan;
}

}  // namespace uda::data
