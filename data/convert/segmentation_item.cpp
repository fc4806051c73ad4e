#include "data/convert/segmentation_item.h"

#include "core/error.h"
#include "data/image_ops.h"

#include <algorithm>
#include <filesystem>

namespace uda::data {

namespace fs = std::filesystem;

std::optional<std::pair<int, int>> resize_target(const std::string& option,
                                                 std::optional<std::pair<int, int>> fallback) {
  if (option.empty()) return fallback;
  if (option == "none") return std::nullopt;
  return parse_size(option, "--resize");
}

std::vector<std::string> list_files(const std::string& dir, const std::string& suffix, bool recursive) {
  std::vector<std::string> out;
  if (!fs::is_directory(dir))
    throw UserError("expected directory not found", dir, "check --src and the layout of the format (docs/FORMATS.md)");
  auto take = [&](const fs::directory_entry& e) {
    std::string name = e.path().filename().string();
    if (e.is_regular_file() && name.size() >= suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      out.push_back(e.path().string());
  };
  if (recursive)
    for (const auto& e : fs::recursive_directory_iterator(dir)) take(e);
  else
    for (const auto& e : fs::directory_iterator(dir)) take(e);
  std::sort(out.begin(), out.end());
  return out;
}

ShardSample make_segmentation_sample(const SegmentationSource& src, const LabelMap& map, bool lenient,
                                     std::optional<std::pair<int, int>> resize_to, size_t num_classes) {
  Image image = to_image(read_png(src.image_path, PngMode::kRgb));
  if (!fs::exists(src.label_path))
    throw UserError("label file missing for image " + src.image_path, src.label_path,
                    "every image needs its label; restore the file or remove the image");
  RawImage raw = read_png(src.label_path, PngMode::kValues);
  if (raw.channels <= src.label_channel)
    throw UserError("label image has " + std::to_string(raw.channels) + " channel(s), expected at least " +
                        std::to_string(src.label_channel + 1),
                    src.label_path, "check that this is the label image of the dataset");
  if (src.label_channel == 0 && raw.channels > 1 && raw.bit_depth == 8)
    throw UserError("label image is a colour image, expected label ids (grey or palette)", src.label_path,
                    "use the *_labelIds.png files, not the colour visualisations");
  if (raw.height != image.height || raw.width != image.width) {
    if (!resize_to)
      throw UserError("label size " + std::to_string(raw.width) + "x" + std::to_string(raw.height) +
                          " differs from image size " + std::to_string(image.width) + "x" +
                          std::to_string(image.height),
                      src.label_path, "pass --resize WxH so both are brought to one size");
  }
  Image label;
  label.height = raw.height;
  label.width = raw.width;
  label.channels = 1;
  label.pixels.resize(label.size());
  std::vector<int64_t> counts(num_classes, 0);
  const size_t n = label.size();
  for (size_t p = 0; p < n; ++p) {
    size_t at = p * static_cast<size_t>(raw.channels) + static_cast<size_t>(src.label_channel);
    unsigned v = raw.bit_depth == 16 ? raw.data16[at] : raw.data8[at];
    if (static_cast<int>(v) > map.max_source_id && v != 255 && !lenient)
      throw UserError("label id " + std::to_string(v) + " is outside the format's range 0.." +
                          std::to_string(map.max_source_id),
                      src.label_path, "check the file, or pass --lenient-labels to map unknown ids to 255 (ignore)");
    uint8_t t = v < map.to_train_id.size() ? map.to_train_id[v] : 255;
    label.pixels[p] = t;
    if (t < num_classes) ++counts[t];
  }
  ShardSample out;
  out.class_pixels = std::move(counts);  // on the full-resolution label, as DAFormer's converters
  out.source_height = image.height;
  out.source_width = image.width;
  if (resize_to) {
    image = resize(image, resize_to->first, resize_to->second, Interp::kBilinear);
    label = resize(label, resize_to->first, resize_to->second, Interp::kNearest);
  }
  out.sample.name = src.name;
  out.sample.image = std::move(image);
  out.sample.label = std::move(label);
  return out;
}

}  // namespace uda::data
