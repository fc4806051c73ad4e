// <root>/<domain>/<class>/*.{png,jpg,jpeg} (the layout of PACS, OfficeHome and
// VisDA-2017): classification shards, the domain of each sample recorded.
// Classes are the union of class folder names over all domains, sorted, so
// ids agree across domains; images keep their own size unless --resize.
#include "core/error.h"
#include "data/convert/registry.h"
#include "data/convert/segmentation_item.h"
#include "data/image_io.h"
#include "data/image_ops.h"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <set>

namespace uda::data {

ConversionPlan plan_imagefolder(const ConvertOptions& o) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(o.src)) throw UserError("not a directory", o.src, "pass the dataset root as --src");
  std::vector<std::string> domains;
  std::set<std::string> class_set;
  for (const auto& d : fs::directory_iterator(o.src))
    if (d.is_directory()) {
      domains.push_back(d.path().filename().string());
      for (const auto& c : fs::directory_iterator(d.path()))
        if (c.is_directory()) class_set.insert(c.path().filename().string());
    }
  std::sort(domains.begin(), domains.end());
  if (domains.empty() || class_set.empty())
    throw UserError("image folder layout not found", o.src, "expected <root>/<domain>/<class>/*.{png,jpg}");
  std::vector<std::string> classes(class_set.begin(), class_set.end());
  struct Item {
    std::string path;
    int domain;
    int cls;
  };
  auto items = std::make_shared<std::vector<Item>>();
  for (size_t d = 0; d < domains.size(); ++d)
    for (size_t c = 0; c < classes.size(); ++c) {
      std::string dir = o.src + "/" + domains[d] + "/" + classes[c];
      if (!fs::is_directory(dir)) continue;
      std::vector<std::string> files;
      for (const auto& f : fs::directory_iterator(dir)) {
        std::string ext = f.path().extension().string();
        for (auto& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (f.is_regular_file() && (ext == ".png" || ext == ".jpg" || ext == ".jpeg")) files.push_back(f.path().string());
      }
      std::sort(files.begin(), files.end());
      for (auto& f : files) items->push_back({f, static_cast<int>(d), static_cast<int>(c)});
    }
  auto size = resize_target(o.resize, std::nullopt);
  size_t num_classes = classes.size();
  std::string root = o.src;
  ConversionPlan plan;
  plan.task = Task::kClassification;
  plan.class_names = classes;
  plan.domain_names = domains;
  plan.split = o.split.empty() ? "all" : o.split;
  plan.num_items = items->size();
  plan.produce = [items, size, num_classes, root](size_t i) {
    const Item& it = (*items)[i];
    ShardSample out;
    Image img = read_rgb_image(it.path);
    out.source_height = img.height;
    out.source_width = img.width;
    if (size) img = resize(img, size->first, size->second, Interp::kBilinear);
    out.sample.image = std::move(img);
    out.sample.name = fs::relative(it.path, root).string();
    out.sample.domain = it.domain;
    out.sample.class_label = it.cls;
    out.class_pixels.assign(num_classes, 0);
    out.class_pixels[static_cast<size_t>(it.cls)] = 1;
    return out;
  };
  plan.provenance = {{"converter", "imagefolder"},
                     {"source", fs::absolute(o.src).string()},
                     {"options", {{"resize", size ? std::to_string(size->first) + "x" + std::to_string(size->second) : "none"}}}};
  return plan;
}

}  // namespace uda::data
