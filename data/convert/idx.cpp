// MNIST-family IDX files (LeCun et al.; the format of MNIST, Fashion-MNIST,
// KMNIST): <src>/<split>-images-idx3-ubyte[.gz] and
// <src>/<split>-labels-idx1-ubyte[.gz], split train or t10k. Optional domain
// constructions:
//   rotated  DomainBed's RotatedMNIST, exactly (domainbed_mnist.h: torch 1.13
//            randperm; pil_rotate.h: PIL's bilinear rotation), on train + t10k
//   colored  DomainBed's ColoredMNIST, exactly (domainbed_mnist.h), 2 channels
//   mnistm   MNIST-M style blending (Ganin & Lempitsky 2015): output =
//            |digit - random crop of a colour photograph| per channel. The
//            photograph is --photo; without it a seeded smooth colour texture
//            stands in (no natural photo ships in the Debian packages used).
#include "core/error.h"
#include "data/convert/domainbed_mnist.h"
#include "data/convert/pil_rotate.h"
#include "data/convert/registry.h"
#include "data/image_io.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>

namespace uda::data {

namespace {

namespace fs = std::filesystem;

std::string find_idx(const std::string& dir, const std::string& stem) {
  for (const std::string& name : {stem, stem + ".gz"})
    if (fs::exists(dir + "/" + name)) return dir + "/" + name;
  throw UserError("IDX file not found: " + stem + "[.gz]", dir,
                  "expected <split>-images-idx3-ubyte[.gz] and <split>-labels-idx1-ubyte[.gz] (split train or t10k)");
}

// The whole (decompressed) file; gzread reads plain files unchanged.
std::string read_maybe_gz(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw UserError("cannot open IDX file", path, "check the file");
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  int err = 0;
  bool bad = n < 0 || (gzerror(f, &err), err != Z_OK && err != Z_STREAM_END);
  gzclose(f);
  if (bad) throw UserError("corrupt gzip stream", path, "re-download the file");
  return out;
}

uint32_t be32(const std::string& s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) | (uint32_t(uint8_t(s[at + 2])) << 8) |
         uint32_t(uint8_t(s[at + 3]));
}

struct IdxData {
  size_t count = 0;
  int rows = 0, cols = 0;
  std::string images, labels;  // whole files
  size_t image_offset = 16, label_offset = 8;

  const uint8_t* pixels(size_t i) const {
    return reinterpret_cast<const uint8_t*>(images.data()) + image_offset + i * static_cast<size_t>(rows * cols);
  }
  uint8_t label(size_t i) const { return static_cast<uint8_t>(labels[label_offset + i]); }
};

IdxData load_idx(const std::string& dir, const std::string& split) {
  IdxData d;
  std::string ipath = find_idx(dir, split + "-images-idx3-ubyte"), lpath = find_idx(dir, split + "-labels-idx1-ubyte");
  d.images = read_maybe_gz(ipath);
  d.labels = read_maybe_gz(lpath);
  if (d.images.size() < 16 || be32(d.images, 0) != 0x00000803)
    throw UserError("not an IDX image file (magic 0x00000803 expected)", ipath, "check the file");
  if (d.labels.size() < 8 || be32(d.labels, 0) != 0x00000801)
    throw UserError("not an IDX label file (magic 0x00000801 expected)", lpath, "check the file");
  d.count = be32(d.images, 4);
  d.rows = static_cast<int>(be32(d.images, 8));
  d.cols = static_cast<int>(be32(d.images, 12));
  if (be32(d.labels, 4) != d.count)
    throw UserError("image and label files hold different counts", lpath, "use matching files of one split");
  if (d.images.size() < 16 + d.count * static_cast<size_t>(d.rows * d.cols))
    throw UserError("IDX image file is truncated", ipath, "re-download the file");
  if (d.labels.size() < 8 + d.count) throw UserError("IDX label file is truncated", lpath, "re-download the file");
  for (size_t i = 0; i < d.count; ++i)
    if (d.label(i) >= 10)
      throw UserError("class id " + std::to_string(d.label(i)) + " of image " + std::to_string(i) + " out of range 0..9",
                      lpath, "check that this is an MNIST-family label file");
  return d;
}

// DomainBed's torch.cat((train.data, test.data)): t10k appended to train.
IdxData merge_train_t10k(const std::string& dir) {
  IdxData d = load_idx(dir, "train");
  IdxData test = load_idx(dir, "t10k");
  if (test.rows != d.rows || test.cols != d.cols)
    throw UserError("train and t10k images differ in size", dir, "use the train and t10k files of one dataset");
  d.images.resize(d.image_offset + d.count * static_cast<size_t>(d.rows * d.cols));
  d.images.append(test.images, test.image_offset, test.count * static_cast<size_t>(test.rows * test.cols));
  d.labels.resize(d.label_offset + d.count);
  d.labels.append(test.labels, test.label_offset, test.count);
  d.count += test.count;
  return d;
}

uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A smooth seeded colour texture standing in for a photograph.
Image texture_photo(uint64_t seed, int w, int h) {
  Image img{h, w, 3, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3)};
  const int cell = 16;
  auto lattice = [&](int gx, int gy, int c) {
    return static_cast<double>(mix(seed ^ (uint64_t(gx) << 32) ^ (uint64_t(gy) << 8) ^ uint64_t(c)) >> 56);
  };
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) {
        int gx = x / cell, gy = y / cell;
        double fx = double(x % cell) / cell, fy = double(y % cell) / cell;
        double v = lattice(gx, gy, c) * (1 - fx) * (1 - fy) + lattice(gx + 1, gy, c) * fx * (1 - fy) +
                   lattice(gx, gy + 1, c) * (1 - fx) * fy + lattice(gx + 1, gy + 1, c) * fx * fy;
        img.pixels[(static_cast<size_t>(y) * w + x) * 3 + c] = static_cast<uint8_t>(v);
      }
  return img;
}

std::vector<std::string> class_names_for(const std::string& src) {
  std::string lower = fs::absolute(src).string();
  for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (lower.find("fashion") != std::string::npos)
    return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
  return {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
}

}  // namespace

ConversionPlan plan_idx(const ConvertOptions& o) {
  const std::string& mode = o.domains;
  if (mode != "none" && mode != "rotated" && mode != "colored" && mode != "mnistm")
    throw UserError("unknown domain construction \"" + mode + "\"", "--domains", "use none, rotated, colored or mnistm");
  const bool domainbed = mode == "rotated" || mode == "colored";
  if (domainbed && !o.split.empty())
    throw UserError("--split does not apply to --domains " + mode, "--split " + o.split,
                    "leave --split out: DomainBed's construction uses train and t10k together");
  const std::string split = domainbed ? "all" : (o.split.empty() ? "train" : o.split);
  auto data = std::make_shared<IdxData>(domainbed ? merge_train_t10k(o.src) : load_idx(o.src, split));
  const size_t limit = o.count >= 0 ? static_cast<size_t>(o.count) : data->count;

  ConversionPlan plan;
  plan.task = Task::kClassification;
  plan.class_names = class_names_for(o.src);
  plan.split = split;
  plan.channels = mode == "colored" ? 2 : (mode == "mnistm" ? 3 : 1);
  // Output item i is environment sample (*samples)[i]: for the DomainBed
  // constructions grouped by environment, each in DomainBed's order; else
  // the first `limit` images of the split.
  auto samples = std::make_shared<std::vector<MnistEnvSample>>();
  if (domainbed) {
    std::vector<uint8_t> labels(data->count);
    for (size_t i = 0; i < data->count; ++i) labels[i] = data->label(i);
    MnistEnvironments envs = mode == "rotated" ? rotated_mnist(labels, o.seed, limit) : colored_mnist(labels, o.seed, limit);
    plan.domain_names = envs.names;
    *samples = std::move(envs.samples);
    if (mode == "colored") plan.class_names = {"class>=5", "class<5"};  // DomainBed's y = (digit < 5), noisy
  } else {
    for (size_t i = 0; i < std::min(limit, data->count); ++i) samples->push_back({int64_t(i), 0, data->label(i), -1});
    plan.domain_names = {mode == "mnistm" ? "mnistm" : "idx"};
  }
  plan.num_items = samples->size();
  std::shared_ptr<Image> photo;
  if (mode == "mnistm")
    photo = std::make_shared<Image>(o.photo.empty() ? texture_photo(o.seed, 512, 512) : read_rgb_image(o.photo));
  if (photo && (photo->width < data->cols || photo->height < data->rows))
    throw UserError("photograph smaller than the digits", o.photo, "use a larger colour image");
  const size_t num_classes = plan.class_names.size();
  const uint64_t seed = o.seed;
  plan.produce = [data, samples, photo, mode, seed, num_classes](size_t i) {
    const MnistEnvSample& e = (*samples)[i];
    const size_t src = static_cast<size_t>(e.source);
    const int h = data->rows, w = data->cols;
    const size_t area = static_cast<size_t>(h) * w;
    Image digit{h, w, 1, std::vector<uint8_t>(data->pixels(src), data->pixels(src) + area)};
    ShardSample out;
    out.sample.domain = e.env;
    if (mode == "rotated") digit = pil_rotate(digit, kRotatedMnistAngles[e.env]);
    if (mode == "colored") {
      // images[i, 1 - colors[i]] *= 0 (datasets.py:147-149): the digit in
      // channel `color`, HWC with 2 channels.
      Image coloured{h, w, 2, std::vector<uint8_t>(area * 2, 0)};
      for (size_t p = 0; p < area; ++p) coloured.pixels[p * 2 + static_cast<size_t>(e.color)] = digit.pixels[p];
      digit = std::move(coloured);
    }
    if (mode == "mnistm") {
      uint64_t r = mix(seed ^ mix(src + 1));
      int x0 = static_cast<int>(r % uint64_t(photo->width - w + 1));
      int y0 = static_cast<int>((r >> 32) % uint64_t(photo->height - h + 1));
      Image blended{h, w, 3, std::vector<uint8_t>(area * 3)};
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
          for (int c = 0; c < 3; ++c) {
            int p = photo->pixels[(size_t(y0 + y) * photo->width + size_t(x0 + x)) * 3 + c];
            blended.pixels[(size_t(y) * w + x) * 3 + c] = static_cast<uint8_t>(std::abs(p - digit.pixels[size_t(y) * w + x]));
          }
      digit = std::move(blended);
    }
    out.sample.name = std::to_string(src);
    out.sample.class_label = e.label;
    out.sample.image = std::move(digit);
    out.class_pixels.assign(num_classes, 0);
    out.class_pixels[static_cast<size_t>(e.label)] = 1;
    out.source_height = h;
    out.source_width = w;
    return out;
  };
  nlohmann::json options{{"split", split}, {"domains", mode}, {"seed", o.seed}, {"count", plan.num_items},
                         {"photo", o.photo.empty() ? "seeded texture" : fs::absolute(o.photo).string()}};
  plan.provenance = {{"converter", "idx"}, {"source", fs::absolute(o.src).string()}, {"options", options}};
  if (domainbed)
    plan.provenance["construction"] = {
        {"reference", std::string("DomainBed ") + (mode == "rotated" ? "RotatedMNIST" : "ColoredMNIST") +
                          " (facebookresearch/DomainBed b93c22a, domainbed/datasets.py), draws of torch 1.13 after "
                          "torch.manual_seed(seed)"},
        {"count", limit >= data->count ? "all" : "the first " + std::to_string(limit) + " shuffled positions"},
        {"sample_names", "index of the source image in the train images followed by the t10k images"}};
  return plan;
}

}  // namespace uda::data
