// GTA5, Cityscapes and SYNTHIA converters on miniature trees in the real
// layouts, file names and label encodings.
#include "core/error.h"
#include "data/convert/registry.h"
#include "data/dataset.h"
#include "data/image_io.h"
#include "tests/support/test_support.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>

using namespace uda::data;
using uda::test::TempDir;

namespace {

// Cityscapes label id -> train id, from cityscapesScripts labels.py, written
// out independently of the implementation's table.
const std::map<int, int> kCityscapesTrainIds{{7, 0},   {8, 1},   {11, 2},  {12, 3},  {13, 4},  {17, 5},  {19, 6},
                                             {20, 7},  {21, 8},  {22, 9},  {23, 10}, {24, 11}, {25, 12}, {26, 13},
                                             {27, 14}, {28, 15}, {31, 16}, {32, 17}, {33, 18}};
// SYNTHIA class id -> train id (DAFormer tools/convert_datasets/synthia.py).
const std::map<int, int> kSynthiaTrainIds{{3, 0},  {4, 1},   {2, 2},   {21, 3},  {5, 4},   {7, 5},  {15, 6},
                                          {9, 7},  {6, 8},   {16, 9},  {1, 10},  {10, 11}, {17, 12}, {8, 13},
                                          {18, 14}, {19, 15}, {20, 16}, {12, 17}, {11, 18}};

int expected(const std::map<int, int>& table, int id) {
  auto it = table.find(id);
  return it == table.end() ? 255 : it->second;
}

Image colour_image(int w, int h, int seed) {
  Image img{h, w, 3, {}};
  for (int i = 0; i < w * h * 3; ++i) img.pixels.push_back(static_cast<uint8_t>((i * 31 + seed * 17) % 251));
  return img;
}

// Label with every id 0..max_id in raster order (then repeated), plus 255.
Image all_ids_label(int w, int h, int max_id) {
  Image l{h, w, 1, {}};
  for (int i = 0; i < w * h; ++i) l.pixels.push_back(static_cast<uint8_t>(i % (max_id + 2) == max_id + 1 ? 255 : i % (max_id + 2)));
  return l;
}

ConvertOptions options(const std::string& format, const std::string& src, const std::string& out) {
  ConvertOptions o;
  o.format = format;
  o.src = src;
  o.out = out;
  o.progress = false;
  o.jobs = 2;
  o.shard_size = 2;
  o.resize = "none";
  return o;
}

void check_mapping(const Sample& s, const Image& source_ids, const std::map<int, int>& table) {
  ASSERT_EQ(s.label.pixels.size(), source_ids.pixels.size());
  for (size_t p = 0; p < s.label.pixels.size(); ++p)
    ASSERT_EQ(s.label.pixels[p], expected(table, source_ids.pixels[p])) << "source id " << int(source_ids.pixels[p]);
}

}  // namespace

TEST(ConvertGta5, MapsEveryLabelIdCountsClassesAndResizes) {
  TempDir tmp;
  std::string src = tmp / "gta";
  std::filesystem::create_directories(src + "/images");
  std::filesystem::create_directories(src + "/labels");
  const int w = 40, h = 20;
  Image ids = all_ids_label(w, h, 33);
  for (int i = 0; i < 3; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "%05d.png", i + 1);
    write_png(src + "/images/" + name, colour_image(w, h, i));
    write_png(src + "/labels/" + name, ids);
  }
  convert(options("gta5", src, tmp / "full"));
  auto ds = Dataset::open(tmp / "full");
  ASSERT_EQ(ds->size(), 3u);
  EXPECT_EQ(ds->read(0).name, "00001");
  EXPECT_EQ(ds->manifest().shards.size(), 2u);
  for (size_t i = 0; i < 3; ++i) check_mapping(ds->read(i), ids, kCityscapesTrainIds);
  EXPECT_EQ(ds->read(1).image.pixels, colour_image(w, h, 1).pixels);
  // Statistics: per class, the number of source pixels with a mapped id.
  std::vector<int64_t> counts(19, 0);
  for (auto v : ids.pixels)
    if (expected(kCityscapesTrainIds, v) != 255) ++counts[static_cast<size_t>(expected(kCityscapesTrainIds, v))];
  EXPECT_EQ(ds->class_stats().per_image[2], counts);

  // Resized: image bilinear, label nearest; statistics stay full-resolution.
  auto o = options("gta5", src, tmp / "small");
  o.resize = "20x10";
  convert(o);
  auto small = Dataset::open(tmp / "small");
  auto s = small->read(0);
  EXPECT_EQ(s.image.width, 20);
  EXPECT_EQ(s.image.height, 10);
  EXPECT_EQ(s.label.width, 20);
  for (auto v : s.label.pixels) EXPECT_TRUE(v < 19 || v == 255);
  // Nearest neighbour: every label value is one of the full-res label's.
  auto full_label = ds->read(0).label.pixels;
  for (auto v : s.label.pixels)
    EXPECT_NE(std::find(full_label.begin(), full_label.end(), v), full_label.end());
  EXPECT_EQ(small->class_stats().per_image[2], counts);
  EXPECT_EQ(small->manifest().provenance["options"]["resize"], "20x10");
}

TEST(ConvertGta5, DefaultSizeIs1280x720) {
  TempDir tmp;
  std::string src = tmp / "gta";
  std::filesystem::create_directories(src + "/images");
  std::filesystem::create_directories(src + "/labels");
  write_png(src + "/images/00001.png", colour_image(64, 36, 0));
  write_png(src + "/labels/00001.png", all_ids_label(64, 36, 33));
  auto o = options("gta5", src, tmp / "out");
  o.resize = "";
  convert(o);
  auto s = Dataset::open(tmp / "out")->read(0);
  EXPECT_EQ(s.image.width, 1280);
  EXPECT_EQ(s.image.height, 720);
  EXPECT_EQ(s.label.height, 720);
}

TEST(ConvertGta5, BadInputsAreUserErrorsAndLeaveNoManifest) {
  TempDir tmp;
  std::string src = tmp / "gta";
  std::filesystem::create_directories(src + "/images");
  std::filesystem::create_directories(src + "/labels");
  write_png(src + "/images/00001.png", colour_image(8, 8, 0));
  // Missing label.
  EXPECT_THROW(convert(options("gta5", src, tmp / "o1")), uda::UserError);
  EXPECT_FALSE(std::filesystem::exists(tmp / "o1/manifest.json"));
  // Out-of-range id.
  Image bad{8, 8, 1, std::vector<uint8_t>(64, 7)};
  bad.pixels[5] = 77;
  write_png(src + "/labels/00001.png", bad);
  try {
    convert(options("gta5", src, tmp / "o2"));
    FAIL();
  } catch (const uda::UserError& e) {
    EXPECT_NE(e.line().find("77"), std::string::npos);
    EXPECT_NE(e.where().find("labels/00001.png"), std::string::npos);
  }
  auto lenient = options("gta5", src, tmp / "o3");
  lenient.lenient_labels = true;
  convert(lenient);
  EXPECT_EQ(Dataset::open(tmp / "o3")->read(0).label.pixels[5], 255);
  // Unreadable PNG.
  uda::test::write_text(src + "/labels/00001.png", "\x89PNG\r\n\x1a\n garbage");
  EXPECT_THROW(convert(options("gta5", src, tmp / "o4")), uda::UserError);
  // Wrong layout.
  EXPECT_THROW(convert(options("gta5", tmp / "nothing", tmp / "o5")), uda::UserError);
  EXPECT_THROW(convert(options("cityscapes", src, tmp / "o6")), uda::UserError);
}

TEST(ConvertCityscapes, ReadsTheCityLayoutAndKeepsValAtFullResolution) {
  TempDir tmp;
  std::string src = tmp / "cs";
  Image ids = all_ids_label(48, 24, 33);
  for (std::string split : {"train", "val"})
    for (std::string city : {"aachen", "bochum"}) {
      std::string img_dir = src + "/leftImg8bit/" + split + "/" + city, gt_dir = src + "/gtFine/" + split + "/" + city;
      std::filesystem::create_directories(img_dir);
      std::filesystem::create_directories(gt_dir);
      std::string stem = city + "_000000_000019";
      write_png(img_dir + "/" + stem + "_leftImg8bit.png", colour_image(48, 24, 3));
      write_png(gt_dir + "/" + stem + "_gtFine_labelIds.png", ids);
      // The colour visualisation sits next to it in the real layout; it must be ignored.
      write_png(gt_dir + "/" + stem + "_gtFine_color.png", colour_image(48, 24, 9));
    }
  auto o = options("cityscapes", src, tmp / "train");
  o.resize = "";
  convert(o);
  auto train = Dataset::open(tmp / "train");
  ASSERT_EQ(train->size(), 2u);
  EXPECT_EQ(train->read(0).name, "aachen_000000_000019");
  EXPECT_EQ(train->read(1).name, "bochum_000000_000019");
  EXPECT_EQ(train->read(0).image.width, 1024);
  EXPECT_EQ(train->read(0).label.height, 512);
  auto v = options("cityscapes", src, tmp / "val");
  v.resize = "";
  v.split = "val";
  convert(v);
  auto val = Dataset::open(tmp / "val");
  EXPECT_EQ(val->manifest().split, "val");
  auto s = val->read(0);
  EXPECT_EQ(s.image.width, 48);
  EXPECT_EQ(s.label.width, 48);
  check_mapping(s, ids, kCityscapesTrainIds);
}

TEST(ConvertSynthia, Reads16BitLabelsFromTheFirstChannel) {
  TempDir tmp;
  std::string src = tmp / "synthia";
  std::filesystem::create_directories(src + "/RGB");
  std::filesystem::create_directories(src + "/GT/LABELS");
  const int w = 30, h = 10;
  // Channel 0: class ids 0..22 and 255 cycling; channel 1: an instance id
  // well above 255 that must be ignored; channel 2: 0.
  std::vector<uint16_t> gt;
  Image class_ids{h, w, 1, {}};
  for (int p = 0; p < w * h; ++p) {
    uint16_t id = static_cast<uint16_t>(p % 24 == 23 ? 255 : p % 24);
    class_ids.pixels.push_back(static_cast<uint8_t>(id));
    gt.insert(gt.end(), {id, static_cast<uint16_t>(1000 + p), 0});
  }
  write_png(src + "/RGB/0000000.png", colour_image(w, h, 1));
  write_png16(src + "/GT/LABELS/0000000.png", h, w, 3, gt);
  convert(options("synthia", src, tmp / "out"));
  auto ds = Dataset::open(tmp / "out");
  check_mapping(ds->read(0), class_ids, kSynthiaTrainIds);
  EXPECT_EQ(ds->domain_names(), std::vector<std::string>{"synthia"});
  // Default size.
  auto o = options("synthia", src, tmp / "default");
  o.resize = "";
  convert(o);
  EXPECT_EQ(Dataset::open(tmp / "default")->read(0).image.height, 760);
  // An id beyond SYNTHIA's 0..22 is an error.
  gt[3] = 40;
  write_png16(src + "/GT/LABELS/0000000.png", h, w, 3, gt);
  EXPECT_THROW(convert(options("synthia", src, tmp / "bad")), uda::UserError);
}
