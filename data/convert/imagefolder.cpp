// Classification domain suites stored as image folders (layouts in
// image_folder_index.h and docs/FORMATS.md): classification shards, the
// domain of each sample recorded; images keep their own size unless
// --resize. --exclude FILE leaves out the listed images (paths relative to
// --src, one per line), e.g. DomainBed's misc/domain_net_duplicates.txt,
// which its download script deletes from DomainNet (scripts/download.py:159-162).
#include "core/error.h"
#include "core/fs.h"
#include "data/convert/image_folder_index.h"
#include "data/convert/registry.h"
#include "data/convert/segmentation_item.h"
#include "data/image_io.h"
#include "data/image_ops.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <memory>
#include <set>
#include <sstream>

namespace uda::data {

namespace fs = std::filesystem;

namespace {

// Paths relative to the root, one per line; blank lines ignored.
std::set<std::string> read_exclusions(const std::string& path) {
  if (!fs::is_regular_file(path)) throw UserError("exclusion list not found", path, "pass an existing file to --exclude");
  std::set<std::string> out;
  std::istringstream lines(fs_util::read_file(path));
  for (std::string line; std::getline(lines, line);) {
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    if (!line.empty()) out.insert(fs::path(line).lexically_normal().string());
  }
  return out;
}

}  // namespace

ConversionPlan plan_imagefolder(const ConvertOptions& o) {
  if (!fs::is_directory(o.src)) throw UserError("not a directory", o.src, "pass the dataset root as --src");
  const auto& layouts = image_folder_layouts();
  if (std::find(layouts.begin(), layouts.end(), o.layout) == layouts.end())
    throw UserError("unknown image folder layout \"" + o.layout + "\"", "--layout",
                    "use auto, domains, office31 or visda2017");
  // Item paths are <root>/...; sample names and --exclude entries are the
  // part after <root>/.
  fs::path root_path = fs::path(o.src).lexically_normal();
  if (root_path.filename().empty() && root_path.has_parent_path()) root_path = root_path.parent_path();  // "dir/"
  const std::string root = root_path.string();
  const std::string layout = o.layout == "auto" ? detect_image_folder_layout(root) : o.layout;
  FolderIndex index = layout == "visda2017" ? index_visda2017(root) : index_class_folders(root, layout == "office31");
  size_t excluded = 0;
  if (!o.exclude.empty()) {
    const std::set<std::string> skip = read_exclusions(o.exclude);
    auto kept = std::remove_if(index.items.begin(), index.items.end(), [&](const FolderItem& it) {
      return skip.count(fs::path(it.path).lexically_relative(root).string()) > 0;
    });
    excluded = static_cast<size_t>(index.items.end() - kept);
    index.items.erase(kept, index.items.end());
  }
  auto items = std::make_shared<std::vector<FolderItem>>(std::move(index.items));
  auto size = resize_target(o.resize, std::nullopt);
  size_t num_classes = index.classes.size();
  ConversionPlan plan;
  plan.task = Task::kClassification;
  plan.class_names = index.classes;
  plan.domain_names = index.domains;
  plan.split = o.split.empty() ? "all" : o.split;
  plan.num_items = items->size();
  plan.produce = [items, size, num_classes, root](size_t i) {
    const FolderItem& it = (*items)[i];
    ShardSample out;
    Image img = read_rgb_image(it.path);
    out.source_height = img.height;
    out.source_width = img.width;
    if (size) img = resize(img, size->first, size->second, Interp::kBilinear);
    out.sample.image = std::move(img);
    out.sample.name = fs::path(it.path).lexically_relative(root).string();
    out.sample.domain = it.domain;
    out.sample.class_label = it.cls;
    out.class_pixels.assign(num_classes, 0);
    out.class_pixels[static_cast<size_t>(it.cls)] = 1;
    return out;
  };
  nlohmann::json options{{"resize", size ? std::to_string(size->first) + "x" + std::to_string(size->second) : "none"},
                         {"layout", layout}};
  if (!o.exclude.empty()) {
    options["exclude"] = fs::absolute(o.exclude).string();
    options["excluded_images"] = excluded;
  }
  plan.provenance = {{"converter", "imagefolder"}, {"source", fs::absolute(o.src).string()}, {"options", options}};
  return plan;
}

}  // namespace uda::data
