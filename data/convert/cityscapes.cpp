// Cityscapes (Cordts et al. 2016): leftImg8bit/<split>/<city>/<stem>_leftImg8bit.png
// and gtFine/<split>/<city>/<stem>_gtFine_labelIds.png. Train default
// 1024x512 (DAFormer's uda_gta_to_cityscapes config); val keeps full
// resolution: mmseg evaluates against the full-resolution labels.
#include "core/error.h"
#include "data/convert/registry.h"
#include "data/convert/segmentation_item.h"

#include <filesystem>
#include <memory>

namespace uda::data {

ConversionPlan plan_cityscapes(const ConvertOptions& o) {
  namespace fs = std::filesystem;
  std::string split = o.split.empty() ? "train" : o.split;
  const std::string suffix = "_leftImg8bit.png";
  auto images = list_files(o.src + "/leftImg8bit/" + split, suffix, true);
  if (!fs::is_directory(o.src + "/gtFine/" + split))
    throw UserError("Cityscapes layout: no gtFine/" + split + " directory", o.src,
                    "expected leftImg8bit/<split>/<city>/ and gtFine/<split>/<city>/");
  auto sources = std::make_shared<std::vector<SegmentationSource>>();
  for (const auto& path : images) {
    std::string file = fs::path(path).filename().string();
    std::string stem = file.substr(0, file.size() - suffix.size());
    std::string city = fs::path(path).parent_path().filename().string();
    sources->push_back(
        {stem, path, o.src + "/gtFine/" + split + "/" + city + "/" + stem + "_gtFine_labelIds.png", 0});
  }
  std::optional<std::pair<int, int>> fallback;
  if (split == "train") fallback = std::make_pair(1024, 512);
  auto size = resize_target(o.resize, fallback);
  ConversionPlan plan;
  plan.task = Task::kSegmentation;
  plan.class_names = cityscapes_class_names();
  plan.domain_names = {"cityscapes"};
  plan.split = split;
  plan.num_items = sources->size();
  bool lenient = o.lenient_labels;
  plan.produce = [sources, size, lenient](size_t i) {
    return make_segmentation_sample((*sources)[i], cityscapes_label_map(), lenient, size, 19);
  };
  plan.provenance = {{"converter", "cityscapes"},
                     {"source", fs::absolute(o.src).string()},
                     {"options", {{"split", split},
                                  {"resize", size ? std::to_string(size->first) + "x" + std::to_string(size->second) : "none"},
                                  {"lenient_labels", lenient}}},
                     {"label_map", "Cityscapes labelIds -> trainIds (cityscapesScripts labels.py)"}};
  return plan;
}

}  // namespace uda::data
