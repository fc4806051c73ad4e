// `uda convert --format idx --domains rotated|colored` against DomainBed's
// RotatedMNIST / ColoredMNIST construction (domainbed/datasets.py:91-183 at
// b93c22a) written out in Python with torch 1.13 and torchvision (DomainBed
// itself is not imported): environments, source images, labels, colours and
// pixels, bit for bit, on Fashion-MNIST.
#include "data/convert/domainbed_mnist.h"
#include "data/convert/registry.h"
#include "data/dataset.h"
#include "tests/data/python_reference.h"
#include "tests/support/test_support.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <limits>

using namespace uda::data;
using uda::data_test::kFashionMnist;
using uda::data_test::ReferenceReader;
using uda::data_test::run_reference;
using uda::test::TempDir;

namespace {

// argv: construction seed count idx_dir out_file with_images. Writes int64 n,
// the n merged labels (uint8, source order), then per kept sample, environment
// 0 first, each environment's first positions: int32 env, int64 source index,
// int64 label, int32 colour (-1 for rotated), and with_images the uint8 HWC
// image DomainBed turns into its float tensor (ToTensor / .float().div_(255)).
const char* kReference = R"(
import gzip, os, struct, sys
import numpy as np, torch
from torchvision.transforms import functional as TF, InterpolationMode
assert torch.__version__.startswith("1.13"), "the reference needs torch 1.13, found " + torch.__version__
construction, seed, count, src = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
out, with_images = open(sys.argv[5], "wb"), sys.argv[6] == "1"
def idx(stem, offset):
    path = os.path.join(src, stem)
    data = gzip.open(path + ".gz").read() if os.path.exists(path + ".gz") else open(path, "rb").read()
    return torch.from_numpy(np.frombuffer(data, np.uint8, offset=offset).copy())
# MultipleEnvironmentMNIST: train then test merged, randperm right after the seed
images = torch.cat([idx(s + "-images-idx3-ubyte", 16) for s in ("train", "t10k")]).view(-1, 28, 28)
labels = torch.cat([idx(s + "-labels-idx1-ubyte", 8) for s in ("train", "t10k")]).long()
out.write(struct.pack("<q", len(images)) + labels.to(torch.uint8).numpy().tobytes())
torch.manual_seed(seed)
shuffle = torch.randperm(len(images))
images, labels = images[shuffle], labels[shuffle]
params = [0, 15, 30, 45, 60, 75] if construction == "rotated" else [0.1, 0.2, 0.9]
for i, p in enumerate(params):
    imgs, y, source = images[i::len(params)], labels[i::len(params)], shuffle[i::len(params)]
    colors = torch.full((len(y),), -1)
    if construction == "colored":  # color_dataset
        y = (y < 5).float()
        y = (y - (torch.rand(len(y)) < 0.25).float()).abs()
        colors = (y - (torch.rand(len(y)) < p).float()).abs()
        imgs = torch.stack([imgs, imgs], dim=1)
        imgs[torch.tensor(range(len(imgs))), (1 - colors).long(), :, :] *= 0
        y = y.view(-1).long()
    for j in range(len(range(i, min(count, len(images)), len(params)))):
        out.write(struct.pack("<iqqi", i, int(source[j]), int(y[j]), int(colors[j])))
        if not with_images:
            continue
        if construction == "rotated":  # rotate_dataset
            rotated = TF.rotate(TF.to_pil_image(imgs[j]), p, fill=(0,), interpolation=InterpolationMode.BILINEAR)
            out.write(np.asarray(rotated, np.uint8).tobytes())
        else:
            out.write(imgs[j].permute(1, 2, 0).contiguous().numpy().tobytes())
)";

struct RefSample {
  int env = 0;
  int64_t source = 0, label = 0;
  int color = -1;
  std::vector<uint8_t> image;
};

struct Reference {
  std::vector<uint8_t> labels;  // merged, source order
  std::vector<RefSample> samples;
};

Reference reference(const std::string& construction, uint64_t seed, size_t count, bool images, const TempDir& tmp) {
  const std::string file = tmp / (construction + "-" + std::to_string(seed) + ".bin");
  run_reference(kReference, {construction, std::to_string(seed), std::to_string(count), kFashionMnist, file, images ? "1" : "0"});
  ReferenceReader in(file);
  Reference r;
  r.labels = in.bytes(static_cast<size_t>(in.get<int64_t>()));
  const size_t image_bytes = 28 * 28 * (construction == "colored" ? 2 : 1);
  while (!in.done()) {
    RefSample s;
    s.env = in.get<int32_t>();
    s.source = in.get<int64_t>();
    s.label = in.get<int64_t>();
    s.color = in.get<int32_t>();
    if (images) s.image = in.bytes(image_bytes);
    r.samples.push_back(std::move(s));
  }
  return r;
}

void require_fashion_mnist() {
  for (const char* f : {"/train-images-idx3-ubyte.gz", "/t10k-images-idx3-ubyte.gz"})
    ASSERT_TRUE(std::filesystem::exists(kFashionMnist + f))
        << "no " << kFashionMnist << f << ": install Debian's dataset-fashion-mnist (scripts/install-deps.sh)";
}

// Converts with `uda convert` options and compares every sample, the
// manifest and the per-domain class statistics with the reference.
void expect_conversion_equals_reference(const std::string& construction, uint64_t seed, int64_t count,
                                        const std::string& encoding) {
  TempDir tmp;
  ConvertOptions o;
  o.format = "idx";
  o.src = kFashionMnist;
  o.out = tmp / "out";
  o.domains = construction;
  o.seed = seed;
  o.count = count;
  o.encoding = encoding;
  o.shard_size = 128;  // several shards
  o.jobs = 2;
  o.progress = false;
  convert(o);
  const Reference ref = reference(construction, seed, static_cast<size_t>(count), true, tmp);
  auto ds = Dataset::open(o.out);
  const bool colored = construction == "colored";
  EXPECT_EQ(ds->manifest().channels, colored ? 2 : 1);
  const std::vector<std::string> env_names =
      colored ? std::vector<std::string>{"+90%", "+80%", "-90%"} : std::vector<std::string>{"0", "15", "30", "45", "60", "75"};
  EXPECT_EQ(ds->domain_names(), env_names);
  if (colored) {
    EXPECT_EQ(ds->class_names(), (std::vector<std::string>{"class>=5", "class<5"}));
  }
  ASSERT_EQ(ds->size(), ref.samples.size());
  ASSERT_EQ(ds->size(), static_cast<size_t>(count));
  const size_t classes = colored ? 2 : 10, domains = colored ? 3 : 6;
  std::vector<std::vector<int64_t>> per_domain(domains, std::vector<int64_t>(classes, 0));
  size_t image_diff = 0, meta_diff = 0;
  for (size_t i = 0; i < ds->size(); ++i) {
    const Sample s = ds->read(i);
    const RefSample& r = ref.samples[i];
    if (s.domain != r.env || s.name != std::to_string(r.source) || s.class_label != r.label) {
      if (++meta_diff <= 3)
        ADD_FAILURE() << "sample " << i << ": uda env " << s.domain << " source " << s.name << " label "
                      << s.class_label << ", DomainBed env " << r.env << " source " << r.source << " label " << r.label;
    }
    if (s.image.pixels != r.image && ++image_diff <= 3)
      ADD_FAILURE() << "sample " << i << " (env " << r.env << ", source " << r.source << "): pixels differ";
    ++per_domain[static_cast<size_t>(r.env)][static_cast<size_t>(r.label)];
  }
  EXPECT_EQ(meta_diff, 0u);
  EXPECT_EQ(image_diff, 0u);
  EXPECT_EQ(ds->class_stats().domain_class_pixels(), per_domain) << "per-domain class statistics";
}

}  // namespace

// The whole construction (all 70,000 images) without pixels: which image
// lands in which environment with which label and colour.
TEST(DomainBedMnist, EnvironmentsOfAllImagesEqualTheReference) {
  require_fashion_mnist();
  TempDir tmp;
  for (const std::string construction : {"rotated", "colored"})
    for (uint64_t seed : {uint64_t{0}, uint64_t{8951917}}) {
      const Reference ref = reference(construction, seed, 70000, false, tmp);
      ASSERT_EQ(ref.labels.size(), 70000u);
      const auto keep_all = std::numeric_limits<size_t>::max();
      const MnistEnvironments envs =
          construction == "rotated" ? rotated_mnist(ref.labels, seed, keep_all) : colored_mnist(ref.labels, seed, keep_all);
      ASSERT_EQ(envs.samples.size(), ref.samples.size()) << construction << " seed " << seed;
      size_t diff = 0;
      std::vector<size_t> sizes(envs.names.size(), 0);
      for (size_t i = 0; i < ref.samples.size(); ++i) {
        const MnistEnvSample& a = envs.samples[i];
        const RefSample& b = ref.samples[i];
        diff += a.env != b.env || a.source != b.source || a.label != b.label || a.color != b.color;
        ++sizes[static_cast<size_t>(a.env)];
      }
      EXPECT_EQ(diff, 0u) << construction << " seed " << seed;
      const std::vector<size_t> want = construction == "rotated"
                                           ? std::vector<size_t>{11667, 11667, 11667, 11667, 11666, 11666}
                                           : std::vector<size_t>{23334, 23333, 23333};
      EXPECT_EQ(sizes, want);
    }
}

// --count 900: the first 900 shuffled positions, i.e. the first 150 images
// of each RotatedMNIST environment (300 of each ColoredMNIST one), must be
// DomainBed's, pixels included.
TEST(DomainBedMnist, RotatedConversionEqualsTheReference) {
  require_fashion_mnist();
  expect_conversion_equals_reference("rotated", 7, 900, "raw");
}

TEST(DomainBedMnist, ColoredConversionEqualsTheReference) {
  require_fashion_mnist();
  expect_conversion_equals_reference("colored", 11, 900, "png");  // 2-channel PNG storage too
}
