#include "worker/report_images.h"

#include "core/fs.h"
#include "data/image_io.h"
#include "worker/label_palette.h"

#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>

namespace fs = std::filesystem;
namespace F = torch::nn::functional;

namespace uda::worker {

namespace {

constexpr int64_t kMaxSide = 512;           // of a picture, in pixels
constexpr int kMaxConfusionClasses = 64;  // larger matrices are not written
constexpr int64_t kGridGap = 2;             // white pixels between the images of a grid

using Size = std::array<int64_t, 2>;  // height, width

// The size that fits kMaxSide with the aspect ratio of h x w.
Size fitted(int64_t h, int64_t w) {
  const double s = std::min(1.0, static_cast<double>(kMaxSide) / static_cast<double>(std::max(h, w)));
  return {std::max<int64_t>(1, std::lround(static_cast<double>(h) * s)),
          std::max<int64_t>(1, std::lround(static_cast<double>(w) * s))};
}

// A label map [h, w] (int64) as a palette picture of `size` (nearest).
void write_labels(const fs::path& path, const at::Tensor& labels, Size size) {
  at::Tensor l = labels;
  if (l.size(0) != size[0] || l.size(1) != size[1])
    l = F::interpolate(l.to(torch::kFloat).unsqueeze(0).unsqueeze(0),
                       F::InterpolateFuncOptions().size(std::vector<int64_t>{size[0], size[1]}).mode(torch::kNearest))
            .squeeze(0)
            .squeeze(0)
            .to(torch::kLong);
  l = l.contiguous();
  data::write_png(path.string(), colourise(l.data_ptr<int64_t>(), static_cast<int>(size[0]), static_cast<int>(size[1])));
}

// Float [C, H, W] (C = 1 or 3) with values in [0, 255] as an 8-bit PNG of
// `size` (area-averaged when smaller).
void write_image(const fs::path& path, at::Tensor chw, Size size) {
  if (chw.size(1) != size[0] || chw.size(2) != size[1])
    chw = F::interpolate(chw.unsqueeze(0),
                         F::InterpolateFuncOptions().size(std::vector<int64_t>{size[0], size[1]}).mode(torch::kArea))
              .squeeze(0);
  const at::Tensor hwc = chw.clamp(0, 255).round().to(torch::kUInt8).permute({1, 2, 0}).contiguous();
  data::Image img{static_cast<int>(size[0]), static_cast<int>(size[1]), static_cast<int>(chw.size(0)), {}};
  img.pixels.assign(hwc.data_ptr<uint8_t>(), hwc.data_ptr<uint8_t>() + hwc.numel());
  data::write_png(path.string(), img);
}

// A batch [N, C, H, W] with values in [0, 1] tiled into one grid [C, ., .]
// in [0, 255], ceil(sqrt(N)) images per row.
at::Tensor grid_of(const at::Tensor& batch) {
  const at::Tensor b = batch.detach().to(torch::kCPU, torch::kFloat).clamp(0, 1) * 255;
  const int64_t n = b.size(0), h = b.size(2), w = b.size(3);
  const int64_t cols = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n))));
  const int64_t rows = (n + cols - 1) / cols;
  at::Tensor grid = torch::full({b.size(1), rows * (h + kGridGap) + kGridGap, cols * (w + kGridGap) + kGridGap}, 255.0);
  for (int64_t i = 0; i < n; ++i)
    grid.narrow(1, kGridGap + (i / cols) * (h + kGridGap), h).narrow(2, kGridGap + (i % cols) * (w + kGridGap), w)
        .copy_(b[i]);
  return grid;
}

// A name as a file name: letters, digits, '-' and '_' kept, others '_'.
std::string file_safe(const std::string& name) {
  std::string out = name.empty() ? "images" : name;
  for (char& c : out)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
  return out;
}

}  // namespace

nlohmann::json write_image_grids(const std::string& dir,
                                 const std::vector<std::pair<std::string, at::Tensor>>& batches) {
  nlohmann::json grids = nlohmann::json::array();
  if (batches.empty()) return grids;
  fs::create_directories(dir);
  for (const auto& [name, batch] : batches) {
    const std::string file = "grid_" + file_safe(name) + ".png";
    const at::Tensor g = grid_of(batch);
    write_image(fs::path(dir) / file, g, {g.size(1), g.size(2)});
    grids.push_back({{"name", name}, {"file", file}});
  }
  return grids;
}

void write_checkpoint_samples(const std::string& run_dir, int64_t iter, algos::Algorithm& algorithm) {
  torch::NoGradGuard no_grad;
  const auto batches = algorithm.report_images();
  if (batches.empty()) return;
  const fs::path dir = fs::path(run_dir) / "samples" / ("iter_" + std::to_string(iter));
  nlohmann::json index{{"iter", iter}, {"grids", write_image_grids(dir.string(), batches)}};
  fs_util::write_file_atomic((dir / "index.json").string(), index.dump() + "\n");
}

ReportImages::ReportImages(int count, std::array<double, 3> mean, std::array<double, 3> std)
    : count_(count), mean_(mean), std_(std) {}

void ReportImages::batch(const std::string& set, const at::Tensor& images, const at::Tensor& labels,
                         const at::Tensor& logits) {
  if (labels.dim() != 3 || logits.dim() != 4) return;
  if (std::find(dense_sets_.begin(), dense_sets_.end(), set) == dense_sets_.end()) dense_sets_.push_back(set);
  if (static_cast<int>(samples_.size()) >= count_) return;
  const at::Tensor pred = predicted_classes(logits, labels);
  const at::Tensor gt = labels.to(torch::kCPU, torch::kLong);
  for (int64_t j = 0; j < images.size(0) && static_cast<int>(samples_.size()) < count_; ++j)
    samples_.push_back({images.narrow(0, j, 1).clone(), gt[j].clone(), pred[j].clone()});
}

void ReportImages::matrix(const std::string& set, const ConfusionMatrix& cm, const std::vector<std::string>& classes) {
  classes_ = classes;
  if (std::find(dense_sets_.begin(), dense_sets_.end(), set) != dense_sets_.end()) return;
  const int n = cm.num_classes();
  if (n > kMaxConfusionClasses) return;
  nlohmann::json rows = nlohmann::json::array();
  for (int g = 0; g < n; ++g)
    rows.push_back(std::vector<int64_t>(cm.counts().begin() + int64_t{g} * n, cm.counts().begin() + int64_t{g + 1} * n));
  confusion_.push_back({{"set", set}, {"counts", std::move(rows)}});
}

void ReportImages::write(const std::string& run_dir, int64_t iter, const nlohmann::json& record,
                         algos::Algorithm& algorithm) {
  torch::NoGradGuard no_grad;
  const fs::path dir = fs::path(run_dir) / "report_images" / ("iter_" + std::to_string(iter));
  fs::create_directories(dir);
  nlohmann::json index{{"iter", iter}, {"classes", classes_}};
  nlohmann::json rows = nlohmann::json::array();
  for (size_t k = 0; k < samples_.size(); ++k) {
    const Sample& s = samples_[k];
    const std::string n = std::to_string(k);
    at::Tensor img = s.image[0].to(torch::kCPU, torch::kFloat).clone();
    for (int64_t c = 0; c < img.size(0); ++c) img[c].mul_(std_[std::min<int64_t>(c, 2)]).add_(mean_[std::min<int64_t>(c, 2)]);
    const Size size = fitted(img.size(1), img.size(2));
    write_image(dir / ("image_" + n + ".png"), img, size);
    write_labels(dir / ("ground_truth_" + n + ".png"), s.labels, size);
    write_labels(dir / ("prediction_" + n + ".png"), s.pred, size);
    nlohmann::json row{{"image", "image_" + n + ".png"},
                       {"ground_truth", "ground_truth_" + n + ".png"},
                       {"prediction", "prediction_" + n + ".png"}};
    if (const at::Tensor pl = algorithm.pseudo_label(s.image); pl.defined()) {
      write_labels(dir / ("pseudo_label_" + n + ".png"),
                   pl.to(torch::kCPU, torch::kLong).reshape({pl.size(-2), pl.size(-1)}), size);
      row["pseudo_label"] = "pseudo_label_" + n + ".png";
    }
    rows.push_back(std::move(row));
  }
  if (!rows.empty()) {
    index["segmentation"] = std::move(rows);
    nlohmann::json palette = nlohmann::json::array();
    for (size_t c = 0; c < classes_.size(); ++c) palette.push_back(label_colour(static_cast<int64_t>(c)));
    index["palette"] = std::move(palette);
  }
  nlohmann::json grids = write_image_grids(dir.string(), algorithm.report_images());
  if (!grids.empty()) index["grids"] = std::move(grids);
  if (!confusion_.empty()) index["confusion"] = confusion_;
  for (const char* key : {"domains", "test_domains"})
    if (record.contains(key)) index[key] = record[key];
  fs_util::write_file_atomic((dir / "index.json").string(), index.dump() + "\n");
  samples_.clear();
  dense_sets_.clear();
  confusion_ = nlohmann::json::array();
}

}  // namespace uda::worker
