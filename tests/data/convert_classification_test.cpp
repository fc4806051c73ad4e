// The idx converter (MNIST family): plain splits, the DomainBed
// environments on synthetic files, MNIST-M blending, bad input. Exactness
// against DomainBed: domainbed_mnist_test.cpp.
#include "core/error.h"
#include "data/convert/domainbed_mnist.h"
#include "data/convert/pil_rotate.h"
#include "data/convert/registry.h"
#include "data/dataset.h"
#include "data/image_io.h"
#include "tests/support/test_support.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <algorithm>
#include <set>

using namespace uda::data;
using uda::test::TempDir;

namespace {

// Writes a raw (uncompressed) IDX pair <split>-{images,labels} with n images
// of 4x3 pixels; image i has every pixel equal to 10 * (first + i), label
// (first + i) % 10.
void write_idx(const std::string& dir, int n, const std::string& split = "train", int first = 0) {
  std::filesystem::create_directories(dir);
  auto be = [](std::ofstream& f, uint32_t v) {
    char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
    f.write(b, 4);
  };
  std::ofstream im(dir + "/" + split + "-images-idx3-ubyte", std::ios::binary),
      lb(dir + "/" + split + "-labels-idx1-ubyte", std::ios::binary);
  be(im, 0x803);
  be(im, uint32_t(n));
  be(im, 3);
  be(im, 4);
  be(lb, 0x801);
  be(lb, uint32_t(n));
  for (int i = first; i < first + n; ++i) {
    for (int p = 0; p < 12; ++p) im.put(char(10 * i));
    lb.put(char(i % 10));
  }
}

template <typename F>
uda::UserError user_error(F f) {
  try {
    f();
  } catch (const uda::UserError& e) {
    return e;
  }
  ADD_FAILURE() << "no UserError";
  return uda::UserError("", "", "");
}

ConvertOptions idx_options(const std::string& src, const std::string& out) {
  ConvertOptions o;
  o.format = "idx";
  o.src = src;
  o.out = out;
  o.progress = false;
  o.jobs = 2;
  o.shard_size = 16;
  return o;
}

const std::string kFashion = "/usr/share/datasets/fashion-mnist";

}  // namespace

TEST(ConvertIdx, RawFilesGiveClassificationSamples) {
  TempDir tmp;
  write_idx(tmp / "mnist", 20);
  convert(idx_options(tmp / "mnist", tmp / "out"));
  auto ds = Dataset::open(tmp / "out");
  ASSERT_EQ(ds->size(), 20u);
  EXPECT_EQ(ds->task(), Task::kClassification);
  EXPECT_EQ(ds->class_names().size(), 10u);
  for (size_t i = 0; i < 20; ++i) {
    auto s = ds->read(i);
    EXPECT_EQ(s.class_label, int64_t(i % 10));
    EXPECT_EQ(s.image.height, 3);
    EXPECT_EQ(s.image.width, 4);
    EXPECT_EQ(s.image.channels, 1);
    EXPECT_EQ(s.image.pixels[5], uint8_t(10 * i));
  }
  EXPECT_EQ(ds->class_stats().class_pixels()[3], 2);
}

TEST(ConvertIdx, RotatedMergesTrainAndT10kIntoSixInterleavedEnvironments) {
  TempDir tmp;
  write_idx(tmp / "mnist", 18, "train");
  write_idx(tmp / "mnist", 6, "t10k", 18);
  auto o = idx_options(tmp / "mnist", tmp / "rot");
  o.domains = "rotated";
  o.seed = 5;
  convert(o);
  auto ds = Dataset::open(tmp / "rot");
  EXPECT_EQ(ds->domain_names(), (std::vector<std::string>{"0", "15", "30", "45", "60", "75"}));
  EXPECT_EQ(ds->manifest().channels, 1);
  EXPECT_EQ(ds->manifest().split, "all");
  std::vector<uint8_t> labels;
  for (int i = 0; i < 24; ++i) labels.push_back(uint8_t(i % 10));
  const auto envs = rotated_mnist(labels, 5, 24);
  ASSERT_EQ(ds->size(), envs.samples.size());
  std::vector<int> per_domain(6, 0);
  std::set<std::string> seen;
  for (size_t i = 0; i < ds->size(); ++i) {
    auto s = ds->read(i);
    ++per_domain[size_t(s.domain)];
    seen.insert(s.name);
    const int src = std::stoi(s.name);  // merged index: t10k images follow the train images
    EXPECT_EQ(src, envs.samples[i].source);
    EXPECT_EQ(s.domain, envs.samples[i].env);
    EXPECT_EQ(s.class_label, src % 10);
    EXPECT_EQ(s.image.channels, 1);
    // Each environment's angle (pil_rotate itself is compared with PIL in
    // pil_rotate_test.cpp).
    const Image source{3, 4, 1, std::vector<uint8_t>(12, uint8_t(10 * src))};
    EXPECT_EQ(s.image.pixels, pil_rotate(source, kRotatedMnistAngles[s.domain]).pixels) << "domain " << s.domain;
  }
  EXPECT_EQ(per_domain, std::vector<int>(6, 4));
  EXPECT_EQ(seen.size(), 24u) << "every train and t10k image exactly once";

  // --count 10 keeps the first 10 shuffled positions: environments of 2, 2,
  // 2, 2, 1, 1 images, each the beginning of the full environment.
  auto o10 = o;
  o10.out = tmp / "rot10";
  o10.count = 10;
  convert(o10);
  auto part = Dataset::open(tmp / "rot10");
  ASSERT_EQ(part->size(), 10u);
  std::vector<std::vector<std::string>> full_env(6), part_env(6);
  for (size_t i = 0; i < ds->size(); ++i) full_env[size_t(ds->domain(i))].push_back(ds->name(i));
  for (size_t i = 0; i < part->size(); ++i) part_env[size_t(part->domain(i))].push_back(part->name(i));
  for (size_t e = 0; e < 6; ++e) {
    ASSERT_EQ(part_env[e].size(), e < 4 ? 2u : 1u);
    EXPECT_TRUE(std::equal(part_env[e].begin(), part_env[e].end(), full_env[e].begin())) << "environment " << e;
  }

  auto o2 = o;
  o2.out = tmp / "rot2";
  o2.seed = 6;
  convert(o2);
  auto other = Dataset::open(tmp / "rot2");
  bool differs = false;
  for (size_t i = 0; i < 24; ++i) differs = differs || other->read(i).name != ds->read(i).name;
  EXPECT_TRUE(differs) << "the seed drives the shuffle";
}

TEST(ConvertIdx, ColoredKeepsTheDigitInOneOfTwoChannels) {
  TempDir tmp;
  write_idx(tmp / "mnist", 25, "train");
  write_idx(tmp / "mnist", 5, "t10k", 25);
  auto o = idx_options(tmp / "mnist", tmp / "col");
  o.domains = "colored";
  convert(o);
  auto ds = Dataset::open(tmp / "col");
  EXPECT_EQ(ds->domain_names(), (std::vector<std::string>{"+90%", "+80%", "-90%"}));
  EXPECT_EQ(ds->class_names(), (std::vector<std::string>{"class>=5", "class<5"}));
  EXPECT_EQ(ds->manifest().channels, 2);
  std::vector<uint8_t> labels;
  for (int i = 0; i < 30; ++i) labels.push_back(uint8_t(i % 10));
  const auto envs = colored_mnist(labels, 0, 30);
  ASSERT_EQ(ds->size(), 30u);
  for (size_t i = 0; i < ds->size(); ++i) {
    auto s = ds->read(i);
    const auto& e = envs.samples[i];
    const int src = std::stoi(s.name);
    ASSERT_EQ(s.image.channels, 2);
    EXPECT_EQ(s.class_label, e.label);
    for (size_t p = 0; p < 12; ++p) {
      EXPECT_EQ(s.image.pixels[2 * p + size_t(e.color)], uint8_t(10 * src));
      EXPECT_EQ(s.image.pixels[2 * p + 1 - size_t(e.color)], 0);
    }
  }
}

TEST(ConvertIdx, DomainBedConstructionsNeedBothSplitsAndNoSplitOption) {
  TempDir tmp;
  write_idx(tmp / "mnist", 12, "train");
  auto o = idx_options(tmp / "mnist", tmp / "o");
  o.domains = "rotated";
  EXPECT_NE(user_error([&] { convert(o); }).what_part().find("t10k-images-idx3-ubyte"), std::string::npos);
  write_idx(tmp / "mnist", 4, "t10k", 12);
  o.split = "train";
  EXPECT_EQ(user_error([&] { convert(o); }).where(), "--split train");
  o.split.clear();
  o.domains = "rotate";
  EXPECT_EQ(user_error([&] { convert(o); }).where(), "--domains");
}

TEST(ConvertIdx, FashionMnistGzAndMnistmBlending) {
  ASSERT_TRUE(std::filesystem::exists(kFashion + "/t10k-images-idx3-ubyte.gz"))
      << "no " << kFashion << ": install Debian's dataset-fashion-mnist (scripts/install-deps.sh)";
  TempDir tmp;
  auto o = idx_options(kFashion, tmp / "fm");
  o.split = "t10k";
  o.count = 40;
  convert(o);
  auto plain = Dataset::open(tmp / "fm");
  EXPECT_EQ(plain->size(), 40u);
  EXPECT_EQ(plain->class_names()[9], "Ankle boot");
  EXPECT_EQ(plain->read(0).image.width, 28);
  // A uniform photograph makes the blend checkable: |colour - digit|.
  Image photo{64, 64, 3, {}};
  for (int p = 0; p < 64 * 64; ++p) photo.pixels.insert(photo.pixels.end(), {200, 100, 30});
  write_png(tmp / "photo.png", photo);
  o.out = tmp / "fmm";
  o.domains = "mnistm";
  o.photo = tmp / "photo.png";
  convert(o);
  auto blended = Dataset::open(tmp / "fmm");
  EXPECT_EQ(blended->domain_names(), std::vector<std::string>{"mnistm"});
  for (size_t i : {0, 7, 39}) {
    auto a = plain->read(i), b = blended->read(i);
    ASSERT_EQ(b.image.channels, 3);
    EXPECT_EQ(a.class_label, b.class_label);
    for (size_t p = 0; p < a.image.pixels.size(); ++p) {
      int d = a.image.pixels[p];
      ASSERT_EQ(b.image.pixels[p * 3 + 0], std::abs(200 - d));
      ASSERT_EQ(b.image.pixels[p * 3 + 1], std::abs(100 - d));
      ASSERT_EQ(b.image.pixels[p * 3 + 2], std::abs(30 - d));
    }
  }
  // Without --photo a seeded colour texture is used: colour, not grey.
  o.out = tmp / "fmt";
  o.photo.clear();
  convert(o);
  auto textured = Dataset::open(tmp / "fmt")->read(0);
  bool colour = false;
  for (size_t p = 0; p + 2 < textured.image.pixels.size(); p += 3)
    colour = colour || textured.image.pixels[p] != textured.image.pixels[p + 1];
  EXPECT_TRUE(colour);
}

TEST(ConvertIdx, MissingOrCorruptFilesAreUserErrors) {
  TempDir tmp;
  EXPECT_THROW(convert(idx_options(tmp.path(), tmp / "o")), uda::UserError);
  write_idx(tmp / "m", 5);
  std::filesystem::resize_file(tmp / "m/train-images-idx3-ubyte", 30);
  EXPECT_NE(user_error([&] { convert(idx_options(tmp / "m", tmp / "o2")); }).what_part().find("truncated"),
            std::string::npos);
  write_idx(tmp / "magic", 5);
  {
    std::fstream f(tmp / "magic/train-labels-idx1-ubyte", std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(3);
    f.put(char(0x03));  // 0x00000803: an image file's magic in the label file
  }
  auto e = user_error([&] { convert(idx_options(tmp / "magic", tmp / "o3")); });
  EXPECT_NE(e.what_part().find("magic"), std::string::npos);
  EXPECT_EQ(e.where(), tmp / "magic/train-labels-idx1-ubyte");
  write_idx(tmp / "label", 5);
  {
    std::fstream f(tmp / "label/train-labels-idx1-ubyte", std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(8 + 3);
    f.put(char(12));
  }
  EXPECT_NE(user_error([&] { convert(idx_options(tmp / "label", tmp / "o4")); }).what_part().find("class id 12 of image 3"),
            std::string::npos);
}
