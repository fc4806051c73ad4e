// MNIST-family IDX files (LeCun et al.; the format of MNIST, Fashion-MNIST,
// KMNIST): <src>/<split>-images-idx3-ubyte[.gz] and
// <src>/<split>-labels-idx1-ubyte[.gz], split train or t10k. Optional domain
// constructions:
//   rotated  DomainBed's RotatedMNIST (Gulrajani & Lopez-Paz 2021,
//            domainbed/datasets.py): a seeded shuffle of the images, split
//            into 6 environments as interleaved slices (env e takes shuffled
//            positions e, e+6, ...), each rotated by 0,15,30,45,60,75 degrees
//            (bilinear, fill 0). Our shuffle is a seeded Fisher-Yates, not
//            torch.randperm: the construction is the same, the draw differs.
//   mnistm   MNIST-M style blending (Ganin & Lempitsky 2015): output =
//            |digit - random crop of a colour photograph| per channel. The
//            photograph is --photo; without it a seeded smooth colour texture
//            stands in (no natural photo ships in the Debian packages used).
#include "core/error.h"
#include "data/convert/registry.h"
#include "data/image_io.h"
#include "data/image_ops.h"

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
  std::string split = o.split.empty() ? "train" : o.split;
  auto data = std::make_shared<IdxData>(load_idx(o.src, split));
  size_t n = data->count;
  if (o.count >= 0) n = std::min(n, static_cast<size_t>(o.count));
  if (o.domains != "none" && o.domains != "rotated" && o.domains != "mnistm")
    throw UserError("unknown domain construction \"" + o.domains + "\"", "--domains", "use none, rotated or mnistm");

  ConversionPlan plan;
  plan.task = Task::kClassification;
  plan.class_names = class_names_for(o.src);
  plan.split = split;
  plan.num_items = n;
  static const int kAngles[] = {0, 15, 30, 45, 60, 75};
  // Item i of the output is source image order[i]; for rotated, the output
  // is grouped by environment (env 0 first), each env an interleaved slice.
  auto order = std::make_shared<std::vector<size_t>>(n);
  auto domain_of = std::make_shared<std::vector<int>>(n, 0);
  for (size_t i = 0; i < n; ++i) (*order)[i] = i;
  if (o.domains == "rotated") {
    uint64_t state = mix(o.seed ^ 0x526f744d4e495354ULL);
    std::vector<size_t> shuffled(*order);
    for (size_t i = n; i > 1; --i) {
      state = mix(state);
      std::swap(shuffled[i - 1], shuffled[state % i]);
    }
    size_t k = 0;
    for (int env = 0; env < 6; ++env)
      for (size_t j = static_cast<size_t>(env); j < n; j += 6) {
        (*order)[k] = shuffled[j];
        (*domain_of)[k++] = env;
      }
    for (int a : kAngles) plan.domain_names.push_back("rot" + std::to_string(a));
  } else {
    plan.domain_names = {o.domains == "mnistm" ? "mnistm" : "idx"};
  }
  std::shared_ptr<Image> photo;
  if (o.domains == "mnistm")
    photo = std::make_shared<Image>(o.photo.empty() ? texture_photo(o.seed, 512, 512) : read_rgb_image(o.photo));
  if (photo && (photo->width < data->cols || photo->height < data->rows))
    throw UserError("photograph smaller than the digits", o.photo, "use a larger colour image");
  std::string mode = o.domains;
  uint64_t seed = o.seed;
  plan.produce = [data, order, domain_of, photo, mode, seed](size_t i) {
    size_t src = (*order)[i];
    int h = data->rows, w = data->cols;
    Image digit{h, w, 1, {}};
    auto begin = data->images.begin() + static_cast<std::ptrdiff_t>(data->image_offset + src * size_t(h * w));
    digit.pixels.assign(begin, begin + h * w);
    int label = static_cast<uint8_t>(data->labels[data->label_offset + src]);
    ShardSample out;
    out.sample.domain = (*domain_of)[i];
    if (mode == "rotated") digit = rotate(digit, kAngles[out.sample.domain]);
    if (mode == "mnistm") {
      uint64_t r = mix(seed ^ mix(src + 1));
      int x0 = static_cast<int>(r % uint64_t(photo->width - w + 1));
      int y0 = static_cast<int>((r >> 32) % uint64_t(photo->height - h + 1));
      Image blended{h, w, 3, std::vector<uint8_t>(size_t(h * w * 3))};
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
          for (int c = 0; c < 3; ++c) {
            int p = photo->pixels[(size_t(y0 + y) * photo->width + size_t(x0 + x)) * 3 + c];
            blended.pixels[(size_t(y) * w + x) * 3 + c] = static_cast<uint8_t>(std::abs(p - digit.pixels[size_t(y) * w + x]));
          }
      digit = std::move(blended);
    }
    if (label >= 10)
      throw UserError("class id " + std::to_string(label) + " out of range 0..9", "IDX label file",
                      "check that this is an MNIST-family label file");
    out.sample.name = std::to_string(src);
    out.sample.class_label = label;
    out.sample.image = std::move(digit);
    out.class_pixels.assign(10, 0);
    out.class_pixels[static_cast<size_t>(label)] = 1;
    out.source_height = h;
    out.source_width = w;
    return out;
  };
  plan.provenance = {{"converter", "idx"},
                     {"source", fs::absolute(o.src).string()},
                     {"options", {{"split", split}, {"domains", o.domains}, {"seed", o.seed}, {"count", n},
                                  {"photo", o.photo.empty() ? "seeded texture" : fs::absolute(o.photo).string()}}}};
  return plan;
}

}  // namespace uda::data
