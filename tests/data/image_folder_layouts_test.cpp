// `uda convert --format imagefolder` on miniature trees in the layouts the
// domain suites ship in: PACS, VLCS, OfficeHome, TerraIncognita, DomainNet
// (<domain>/<class>/<image>), Office-31 (<domain>/images/<class>/<image>) and
// VisDA-2017 (train/ and validation/ with image_list.txt), tiny PNG and JPEG
// files; then the mistakes users make with them.
#include "core/error.h"
#include "data/convert/registry.h"
#include "data/dataset.h"
#include "data/image_io.h"
#include "tests/support/test_support.h"

#include <gtest/gtest.h>
#include <jpeglib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>

using namespace uda::data;
using uda::test::TempDir;
namespace fs = std::filesystem;

namespace {

// A uniform RGB image; colour (10 * domain, 10 * class, 7 * k) identifies it.
Image swatch(int domain, int cls, int k, int width = 6) {
  Image img{5, width, 3, {}};
  for (int p = 0; p < 5 * width; ++p) img.pixels.insert(img.pixels.end(), {uint8_t(10 * domain), uint8_t(10 * cls), uint8_t(7 * k)});
  return img;
}

void write_jpeg(const std::string& path, const Image& img) {
  fs::create_directories(fs::path(path).parent_path());
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  jpeg_stdio_dest(&c, f);
  c.image_width = static_cast<JDIMENSION>(img.width);
  c.image_height = static_cast<JDIMENSION>(img.height);
  c.input_components = 3;
  c.in_color_space = JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 95, TRUE);
  jpeg_start_compress(&c, TRUE);
  for (int y = 0; y < img.height; ++y) {
    JSAMPROW row = const_cast<JSAMPROW>(img.pixels.data() + static_cast<size_t>(y) * img.width * 3);
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  std::fclose(f);
}

void write_image(const std::string& path, const Image& img) {
  if (fs::path(path).extension() == ".png") {
    fs::create_directories(fs::path(path).parent_path());
    write_png(path, img);
  } else {
    write_jpeg(path, img);
  }
}

struct Suite {
  std::string name;
  std::vector<std::string> domains, classes;  // as on disk, in no particular order
  std::string ext;                            // of most images
  std::map<std::string, std::string> ext_of;  // per domain where the suite differs
};

// <root>/<domain>/<class>/ (or <domain>/images/<class>/), two images each.
void make_class_tree(const std::string& root, const Suite& s, bool office31) {
  for (size_t d = 0; d < s.domains.size(); ++d)
    for (size_t c = 0; c < s.classes.size(); ++c)
      for (int k = 0; k < 2; ++k) {
        const std::string ext = s.ext_of.count(s.domains[d]) ? s.ext_of.at(s.domains[d]) : s.ext;
        write_image(root + "/" + s.domains[d] + (office31 ? "/images/" : "/") + s.classes[c] + "/" + s.domains[d] + "_" +
                        std::to_string(k) + ext,
                    swatch(int(d), int(c), k));
      }
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

ConvertOptions folder_options(const std::string& src, const std::string& out) {
  ConvertOptions o;
  o.format = "imagefolder";
  o.src = src;
  o.out = out;
  o.progress = false;
  o.jobs = 2;
  o.shard_size = 7;
  return o;
}

// Every sample's domain and class agree with its path, samples are in
// ImageFolder order, and the class statistics count them per domain.
void expect_dataset(const Dataset& ds, const Suite& s, const std::string& layout, size_t per_class) {
  EXPECT_EQ(ds.manifest().provenance["options"]["layout"], layout) << s.name;
  EXPECT_EQ(ds.domain_names(), sorted(s.domains)) << s.name;
  EXPECT_EQ(ds.class_names(), sorted(s.classes)) << s.name;
  EXPECT_EQ(ds.manifest().channels, 3);
  ASSERT_EQ(ds.size(), s.domains.size() * s.classes.size() * per_class) << s.name;
  std::vector<std::string> names;
  for (size_t i = 0; i < ds.size(); ++i) {
    const Sample smp = ds.read(i);
    std::vector<std::string> parts;
    for (const auto& p : fs::path(smp.name)) parts.push_back(p.string());
    const size_t class_part = layout == "office31" ? 2 : 1;
    ASSERT_GT(parts.size(), class_part) << smp.name;
    EXPECT_EQ(ds.domain_names()[size_t(smp.domain)], parts[0]) << smp.name;
    EXPECT_EQ(ds.class_names()[size_t(smp.class_label)], parts[class_part]) << smp.name;
    EXPECT_EQ(smp.image.channels, 3);
    names.push_back(smp.name);
  }
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end())) << s.name << ": ImageFolder order";
  auto dom = ds.class_stats().domain_class_pixels();
  for (size_t d = 0; d < s.domains.size(); ++d)
    EXPECT_EQ(dom[d], std::vector<int64_t>(s.classes.size(), int64_t(per_class))) << s.name << " domain " << d;
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

// VisDA-2017's 12 classes; labels are their sorted order.
const std::vector<std::string> kVisdaClasses{"aeroplane", "bicycle", "bus",   "car",        "horse", "knife",
                                             "motorcycle", "person", "plant", "skateboard", "train", "truck"};

// train/ (synthetic renderings, PNG) and validation/ (real crops, JPEG), two
// images per class, listed in image_list.txt as "<class>/<file> <label>".
void make_visda(const std::string& root) {
  for (const std::string split : {"train", "validation"}) {
    std::string list;
    for (size_t c = 0; c < kVisdaClasses.size(); ++c)
      for (int k = 0; k < 2; ++k) {
        const std::string rel = kVisdaClasses[c] + "/" +
                                (split == "train" ? "src_1_0269115" + std::to_string(k) + "_x__1_1_150.png"
                                                  : kVisdaClasses[c] + "_" + std::to_string(k) + ".jpg");
        write_image(root + "/" + split + "/" + rel, swatch(split == "train" ? 0 : 1, int(c), k));
        list += rel + " " + std::to_string(c) + "\n";
      }
    uda::test::write_text(root + "/" + split + "/image_list.txt", list);
  }
  write_image(root + "/train/aeroplane/unlisted.png", swatch(0, 0, 9));  // not in the list: left out
  write_image(root + "/test/trunk_00/0a1b.jpg", swatch(2, 0, 0));       // unlabelled test split: left out
}

}  // namespace

TEST(ImageFolderLayouts, DomainClassSuites) {
  const std::vector<Suite> suites{
      {"PACS", {"art_painting", "cartoon", "photo", "sketch"}, {"dog", "elephant", "giraffe", "guitar", "horse", "house", "person"},
       ".jpg", {{"sketch", ".png"}}},
      {"VLCS", {"VOC2007", "Caltech101", "LabelMe", "SUN09"}, {"bird", "car", "chair", "dog", "person"}, ".jpg", {}},
      {"OfficeHome", {"Art", "Clipart", "Product", "Real World"}, {"Alarm_Clock", "Backpack", "Batteries"}, ".jpg", {}},
      {"TerraIncognita", {"location_38", "location_100", "location_43", "location_46"},
       {"bird", "bobcat", "cat", "coyote", "dog", "empty", "opossum", "rabbit", "raccoon", "squirrel"}, ".jpg", {}},
      {"DomainNet", {"clipart", "infograph", "painting", "quickdraw", "real", "sketch"},
       {"aircraft_carrier", "airplane", "alarm_clock"}, ".jpg", {{"quickdraw", ".png"}}},
  };
  for (const auto& s : suites) {
    TempDir tmp;
    make_class_tree(tmp / s.name, s, false);
    convert(folder_options(tmp / s.name, tmp / "out"));
    expect_dataset(*Dataset::open(tmp / "out"), s, "domains", 2);
  }
}

TEST(ImageFolderLayouts, Office31ImagesSubfolder) {
  const Suite s{"Office31", {"webcam", "amazon", "dslr"}, {"back_pack", "bike", "calculator"}, ".jpg", {}};
  TempDir tmp;
  make_class_tree(tmp / "office31", s, true);
  convert(folder_options(tmp / "office31", tmp / "auto"));
  expect_dataset(*Dataset::open(tmp / "auto"), s, "office31", 2);
  auto o = folder_options(tmp / "office31", tmp / "explicit");
  o.layout = "office31";
  convert(o);
  expect_dataset(*Dataset::open(tmp / "explicit"), s, "office31", 2);
  // As plain <domain>/<class>, "images" would be the only class.
  o.layout = "domains";
  o.out = tmp / "wrong";
  convert(o);
  EXPECT_EQ(Dataset::open(tmp / "wrong")->class_names(), std::vector<std::string>{"images"});
}

TEST(ImageFolderLayouts, VisDA2017ImageLists) {
  TempDir tmp;
  make_visda(tmp / "visda");
  convert(folder_options(tmp / "visda", tmp / "out"));
  auto ds = Dataset::open(tmp / "out");
  EXPECT_EQ(ds->manifest().provenance["options"]["layout"], "visda2017");
  EXPECT_EQ(ds->domain_names(), (std::vector<std::string>{"train", "validation"}));
  EXPECT_EQ(ds->class_names(), kVisdaClasses);
  ASSERT_EQ(ds->size(), 2u * 12 * 2);
  for (size_t i = 0; i < ds->size(); ++i) {
    const Sample s = ds->read(i);
    EXPECT_EQ(s.domain, i < 24 ? 0 : 1);
    EXPECT_EQ(s.class_label, int64_t(i % 24 / 2)) << s.name;  // list order
    EXPECT_EQ(s.name.rfind(std::string(i < 24 ? "train/" : "validation/") + kVisdaClasses[i % 24 / 2] + "/", 0), 0u)
        << s.name;
  }
  // The synthetic domain is stored losslessly (PNG): the colour survives.
  EXPECT_EQ(ds->read(5).image.pixels[1], 10 * 2);
}

TEST(ImageFolderLayouts, ImageFolderOrderAndExclusionList) {
  TempDir tmp;
  const std::string root = tmp / "domain_net";
  for (const std::string d : {"real", "clipart"})
    for (const std::string c : {"airplane", "bee"})
      for (const std::string f : {"b.jpg", "a.png", "sub/c.jpg", "a-z/d.png", "notes.txt"})
        if (fs::path(f).extension() == ".txt")
          uda::test::write_text(root + "/" + d + "/" + c + "/" + f, "not an image");
        else
          write_image(root + "/" + d + "/" + c + "/" + f, swatch(1, 2, 3));
  // torchvision's sorted(os.walk()): the class folder's own files first,
  // then subfolders by path ("a-z" before "sub"); .txt left out.
  convert(folder_options(root + "/", tmp / "all"));  // a trailing slash changes nothing
  auto all = Dataset::open(tmp / "all");
  ASSERT_EQ(all->size(), 16u);
  EXPECT_EQ(all->name(0), "clipart/airplane/a.png");
  EXPECT_EQ(all->name(1), "clipart/airplane/b.jpg");
  EXPECT_EQ(all->name(2), "clipart/airplane/a-z/d.png");
  EXPECT_EQ(all->name(3), "clipart/airplane/sub/c.jpg");
  // DomainBed deletes the images of misc/domain_net_duplicates.txt; --exclude
  // leaves them out (lines naming absent files are ignored, as there).
  uda::test::write_text(tmp / "duplicates.txt", "clipart/airplane/b.jpg\nreal/bee/sub/c.jpg\n\nclipart/gone/x.jpg\n");
  auto o = folder_options(root, tmp / "dedup");
  o.exclude = tmp / "duplicates.txt";
  convert(o);
  auto dedup = Dataset::open(tmp / "dedup");
  EXPECT_EQ(dedup->size(), 14u);
  EXPECT_EQ(dedup->manifest().provenance["options"]["excluded_images"], 2);
  for (size_t i = 0; i < dedup->size(); ++i) {
    EXPECT_NE(dedup->name(i), "clipart/airplane/b.jpg");
    EXPECT_NE(dedup->name(i), "real/bee/sub/c.jpg");
  }
}

TEST(ImageFolderLayouts, ClassFolderMissingInOneDomainIsAUserError) {
  TempDir tmp;
  const std::string root = tmp / "pacs";
  const Suite s{"PACS", {"art_painting", "photo"}, {"dog", "horse"}, ".jpg", {}};
  make_class_tree(root, s, false);
  write_image(root + "/photo/zebra/z.jpg", swatch(1, 2, 0));
  auto e = user_error([&] { convert(folder_options(root, tmp / "o")); });
  EXPECT_EQ(e.where(), root + "/art_painting/zebra");
  EXPECT_NE(e.what_part().find("class folder \"zebra\" missing in domain \"art_painting\""), std::string::npos) << e.line();
  EXPECT_NE(e.fix().find("create it empty"), std::string::npos);
  const std::string line = e.line();
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 0);
  // An empty folder states that the domain has no such images.
  fs::create_directories(root + "/art_painting/zebra");
  convert(folder_options(root, tmp / "o2"));
  auto ds = Dataset::open(tmp / "o2");
  EXPECT_EQ(ds->class_names(), (std::vector<std::string>{"dog", "horse", "zebra"}));
  EXPECT_EQ(ds->class_stats().domain_class_pixels()[0], (std::vector<int64_t>{2, 2, 0}));
  EXPECT_EQ(ds->class_stats().domain_class_pixels()[1], (std::vector<int64_t>{2, 2, 1}));
}

TEST(ImageFolderLayouts, VisDA2017ListMistakesAreUserErrors) {
  struct Case {
    std::string line, what;
  };
  const std::vector<Case> cases{{"aeroplane/missing.png 0", "listed but missing"},
                                {"aeroplane/src_1_02691150_x__1_1_150.png 12", "label 12 out of range 0..11"},
                                {"aeroplane/src_1_02691150_x__1_1_150.png -1", "out of range"},
                                {"aeroplane/src_1_02691150_x__1_1_150.png one", "out of range"},
                                {"aeroplane/src_1_02691150_x__1_1_150.png", "malformed line"},
                                {"aeroplane/src_1_02691150_x__1_1_150.png 0 extra", "malformed line"},
                                {"aeroplane/src_1_02691150_x__1_1_150.png 3", "disagrees with its class folder \"aeroplane\""}};
  for (const auto& c : cases) {
    TempDir tmp;
    make_visda(tmp / "visda");
    const std::string list = tmp / "visda/validation/image_list.txt";
    uda::test::write_text(list, uda::test::read_text(list) + "\n" + c.line + "\n");
    fs::copy_file(tmp / "visda/train/aeroplane/src_1_02691150_x__1_1_150.png",
                  tmp / "visda/validation/aeroplane/src_1_02691150_x__1_1_150.png");
    auto e = user_error([&] { convert(folder_options(tmp / "visda", tmp / "o")); });
    EXPECT_NE(e.what_part().find(c.what), std::string::npos) << c.line << ": " << e.line();
    EXPECT_EQ(e.where(), list + ":26") << c.line;  // 24 images, a blank line, then this one
  }
}

TEST(ImageFolderLayouts, OtherMistakesAreUserErrors) {
  TempDir tmp;
  const std::string root = tmp / "pacs";
  const Suite s{"PACS", {"art_painting", "photo"}, {"dog", "horse"}, ".png", {}};
  make_class_tree(root, s, false);
  auto o = folder_options(root, tmp / "o");
  o.layout = "pacs";
  EXPECT_EQ(user_error([&] { convert(o); }).where(), "--layout");
  o.layout = "office31";
  EXPECT_EQ(user_error([&] { convert(o); }).where(), root + "/art_painting/images");
  o.layout = "visda2017";
  EXPECT_NE(user_error([&] { convert(o); }).what_part().find("neither train/ nor validation/"), std::string::npos);
  o.layout = "auto";
  o.exclude = tmp / "no-such-list.txt";
  EXPECT_EQ(user_error([&] { convert(o); }).where(), tmp / "no-such-list.txt");
  o.exclude.clear();
  uda::test::write_text(root + "/photo/dog/scan.BMP", "BM");
  EXPECT_EQ(user_error([&] { convert(o); }).where(), root + "/photo/dog/scan.BMP");
  fs::remove(root + "/photo/dog/scan.BMP");
  uda::test::write_text(root + "/art_painting/dog/broken.jpg", "not a jpeg");
  EXPECT_NE(user_error([&] { convert(o); }).where().find("broken.jpg"), std::string::npos);
}
