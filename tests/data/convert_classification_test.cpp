// idx (MNIST family) and imagefolder converters.
#include "core/error.h"
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

// Writes a raw (uncompressed) IDX pair with n images of 4x3 pixels; image i
// has every pixel equal to 10 * i, label i % 10.
void write_idx(const std::string& dir, int n) {
  std::filesystem::create_directories(dir);
  auto be = [](std::ofstream& f, uint32_t v) {
    char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
    f.write(b, 4);
  };
  std::ofstream im(dir + "/train-images-idx3-ubyte", std::ios::binary), lb(dir + "/train-labels-idx1-ubyte", std::ios::binary);
  be(im, 0x803);
  be(im, uint32_t(n));
  be(im, 3);
  be(im, 4);
  be(lb, 0x801);
  be(lb, uint32_t(n));
  for (int i = 0; i < n; ++i) {
    for (int p = 0; p < 12; ++p) im.put(char(10 * i));
    lb.put(char(i % 10));
  }
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

TEST(ConvertIdx, RotatedDomainsAreInterleavedSlicesOfASeededShuffle) {
  TempDir tmp;
  write_idx(tmp / "mnist", 24);
  auto o = idx_options(tmp / "mnist", tmp / "rot");
  o.domains = "rotated";
  o.seed = 5;
  convert(o);
  auto ds = Dataset::open(tmp / "rot");
  EXPECT_EQ(ds->domain_names(), (std::vector<std::string>{"rot0", "rot15", "rot30", "rot45", "rot60", "rot75"}));
  std::vector<int> per_domain(6, 0);
  std::set<std::string> seen;
  for (size_t i = 0; i < ds->size(); ++i) {
    auto s = ds->read(i);
    ++per_domain[size_t(s.domain)];
    seen.insert(s.name);
    int src = std::stoi(s.name);
    EXPECT_EQ(s.class_label, src % 10);
    // A uniform image stays uniform at angle 0; rotated, its corners take
    // the fill value 0 in part.
    bool uniform = std::all_of(s.image.pixels.begin(), s.image.pixels.end(), [&](uint8_t v) { return v == 10 * src; });
    if (s.domain == 0) {
      EXPECT_TRUE(uniform) << "angle 0 keeps the digit";
    } else if (src > 0) {
      EXPECT_FALSE(uniform) << "domain " << s.domain << " not rotated";
      EXPECT_LT(s.image.pixels[0], 10 * src);
    }
  }
  EXPECT_EQ(per_domain, std::vector<int>(6, 4));
  EXPECT_EQ(seen.size(), 24u) << "every image exactly once";
  auto o2 = o;
  o2.out = tmp / "rot2";
  o2.seed = 6;
  convert(o2);
  auto other = Dataset::open(tmp / "rot2");
  bool differs = false;
  for (size_t i = 0; i < 24; ++i) differs = differs || other->read(i).name != ds->read(i).name;
  EXPECT_TRUE(differs) << "the seed drives the shuffle";
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
  EXPECT_THROW(convert(idx_options(tmp / "m", tmp / "o2")), uda::UserError);
}

TEST(ConvertImageFolder, DomainsAndClassesFromTheTree) {
  TempDir tmp;
  std::string root = tmp / "pacs";
  for (std::string d : {"art", "photo"})
    for (std::string c : {"dog", "horse"}) std::filesystem::create_directories(root + "/" + d + "/" + c);
  std::filesystem::create_directories(root + "/photo/zebra");
  auto img = [](int v, int w) { return Image{6, w, 3, std::vector<uint8_t>(size_t(6 * w * 3), uint8_t(v))}; };
  write_png(root + "/art/dog/a.png", img(1, 5));
  write_png(root + "/art/horse/b.png", img(2, 7));
  write_png(root + "/photo/dog/c.png", img(3, 5));
  write_png(root + "/photo/zebra/d.png", img(4, 9));
  uda::test::write_text(root + "/photo/zebra/notes.txt", "ignored");
  ConvertOptions o;
  o.format = "imagefolder";
  o.src = root;
  o.out = tmp / "out";
  o.progress = false;
  convert(o);
  auto ds = Dataset::open(tmp / "out");
  EXPECT_EQ(ds->class_names(), (std::vector<std::string>{"dog", "horse", "zebra"}));
  EXPECT_EQ(ds->domain_names(), (std::vector<std::string>{"art", "photo"}));
  ASSERT_EQ(ds->size(), 4u);
  auto s = ds->read(3);
  EXPECT_EQ(s.name, "photo/zebra/d.png");
  EXPECT_EQ(s.domain, 1);
  EXPECT_EQ(s.class_label, 2);
  EXPECT_EQ(s.image.width, 9);
  EXPECT_EQ(ds->read(1).image.pixels[0], 2);
  auto dom = ds->class_stats().domain_class_pixels();
  EXPECT_EQ(dom[1], (std::vector<int64_t>{1, 0, 1}));
  // A broken JPEG is a UserError naming it.
  uda::test::write_text(root + "/art/dog/broken.jpg", "not a jpeg");
  o.out = tmp / "out2";
  try {
    convert(o);
    FAIL();
  } catch (const uda::UserError& e) {
    EXPECT_NE(e.where().find("broken.jpg"), std::string::npos) << e.line();
  }
}
