#include "core/error.h"
#include "data/class_stats.h"
#include "data/class_stats_io.h"
#include "data/label_maps.h"
#include "data/rcs.h"

#include <hdf5.h>

#include "tests/support/parity_fixture.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

using namespace uda::data;

namespace {
ClassStats small_stats() {
  ClassStats s;
  s.class_names = {"a", "b", "c"};
  s.domain_names = {"d0", "d1"};
  s.per_image = {{10, 0, 5}, {0, 3, 0}, {2, 2, 0}};
  s.image_domain = {0, 1, 1};
  s.image_names = {"x", "y", "z"};
  return s;
}

}  // namespace

TEST(ClassStats, TotalsFrequenciesDomainsAndImageLists) {
  auto s = small_stats();
  EXPECT_EQ(s.class_pixels(), (std::vector<int64_t>{12, 5, 5}));
  auto f = s.class_freq();
  EXPECT_DOUBLE_EQ(f[0], 12.0 / 22);
  auto dom = s.domain_class_pixels();
  EXPECT_EQ(dom[0], (std::vector<int64_t>{10, 0, 5}));
  EXPECT_EQ(dom[1], (std::vector<int64_t>{2, 5, 0}));
  auto ratio = s.domain_class_ratio();
  EXPECT_DOUBLE_EQ(ratio[1][1], 5.0 / 7);
  auto with = s.images_with_class(2);
  EXPECT_EQ(with[0], (std::vector<int64_t>{0}));  // image 2 has exactly 2: not more than 2
  EXPECT_EQ(with[1], (std::vector<int64_t>{1}));
  EXPECT_EQ(with[2], (std::vector<int64_t>{0}));
}

TEST(ClassStats, JsonRoundTripAndMalformedInput) {
  auto s = small_stats();
  auto back = class_stats_from_json(class_stats_to_json(s), "mem");
  EXPECT_EQ(back.per_image, s.per_image);
  EXPECT_EQ(back.image_names, s.image_names);
  EXPECT_EQ(back.image_domain, s.image_domain);
  auto j = class_stats_to_json(s);
  j["per_image"][1] = {1, 2};
  EXPECT_THROW(class_stats_from_json(j, "mem"), uda::UserError);
}

TEST(ClassStats, DaformerExportAndImport) {
  auto s = small_stats();
  auto scs = to_daformer_sample_class_stats(s);
  ASSERT_EQ(scs.size(), 3u);
  EXPECT_EQ(scs[0]["0"], 10);
  EXPECT_EQ(scs[0]["2"], 5);
  EXPECT_FALSE(scs[0].contains("1"));  // absent classes are left out, as DAFormer
  EXPECT_EQ(scs[0]["file"], "x");
  auto swc = to_daformer_samples_with_class(s);
  EXPECT_EQ(swc["1"], nlohmann::json::parse(R"([["y",3],["z",2]])"));
  auto back = from_daformer_sample_class_stats(scs, s.class_names, "mem");
  EXPECT_EQ(back.per_image, s.per_image);
  EXPECT_EQ(back.image_names, s.image_names);
  EXPECT_THROW(from_daformer_sample_class_stats(nlohmann::json::parse(R"([{"7": 3}])"), s.class_names, "mem"),
               uda::UserError);
  EXPECT_THROW(from_daformer_sample_class_stats(nlohmann::json::parse(R"({"a": 1})"), s.class_names, "mem"),
               uda::UserError);
}

TEST(Rcs, AbsentClassesGetZeroAndLowerTemperatureFavoursRareClasses) {
  std::vector<int64_t> px{1000, 10, 0, 100};
  auto p1 = rcs_class_probs(px, 0.1), p2 = rcs_class_probs(px, 0.01);
  EXPECT_EQ(p1[2], 0.0);
  double sum = p1[0] + p1[1] + p1[3];
  EXPECT_NEAR(sum, 1.0, 1e-6);
  EXPECT_GT(p1[1], p1[3]);
  EXPECT_GT(p1[3], p1[0]);
  EXPECT_GT(p2[1], p1[1]);
}

// /helpers/rcs of the parity fixture: get_rcs_class_probs of the official
// DAFormer code for each temperature group T<value>.
TEST(Rcs, MatchesOfficialGoldenValues) {
  std::string path = uda::test::parity_golden();
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  auto read_i64 = [&](const std::string& name) {
    hid_t ds = H5Dopen2(f, name.c_str(), H5P_DEFAULT);
    hid_t sp = H5Dget_space(ds);
    std::vector<int64_t> v(static_cast<size_t>(H5Sget_simple_extent_npoints(sp)));
    H5Dread(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
    H5Sclose(sp);
    H5Dclose(ds);
    return v;
  };
  auto flat = read_i64("/helpers/rcs/sample_class_stats");
  // (num_samples, num_classes): the class count is the file's, not assumed.
  hid_t stats_ds = H5Dopen2(f, "/helpers/rcs/sample_class_stats", H5P_DEFAULT);
  hid_t stats_sp = H5Dget_space(stats_ds);
  hsize_t dims[2] = {0, 0};
  ASSERT_EQ(H5Sget_simple_extent_ndims(stats_sp), 2);
  H5Sget_simple_extent_dims(stats_sp, dims, nullptr);
  H5Sclose(stats_sp);
  H5Dclose(stats_ds);
  const size_t num_classes = dims[1];
  ClassStats stats;
  for (size_t c = 0; c < num_classes; ++c) stats.class_names.push_back("class" + std::to_string(c));
  stats.domain_names = {"d"};
  for (size_t i = 0; i < dims[0]; ++i) {
    stats.per_image.emplace_back(flat.begin() + static_cast<long>(i * num_classes),
                                 flat.begin() + static_cast<long>((i + 1) * num_classes));
    stats.image_domain.push_back(0);
  }
  // The temperatures come from the group names.
  std::vector<std::string> groups;
  hid_t g = H5Gopen2(f, "/helpers/rcs", H5P_DEFAULT);
  H5Literate(
      g, H5_INDEX_NAME, H5_ITER_INC, nullptr,
      [](hid_t, const char* name, const H5L_info_t*, void* out) -> herr_t {
        if (name[0] == 'T') static_cast<std::vector<std::string>*>(out)->push_back(name);
        return 0;
      },
      &groups);
  H5Gclose(g);
  ASSERT_GE(groups.size(), 2u);
  for (const auto& group : groups) {
    double t = std::stod(group.substr(1));
    auto classes = read_i64("/helpers/rcs/" + group + "/classes");
    hid_t ds = H5Dopen2(f, ("/helpers/rcs/" + group + "/probs").c_str(), H5P_DEFAULT);
    std::vector<float> probs(classes.size());
    H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, probs.data());
    H5Dclose(ds);
    auto ours = rcs_class_probs(stats, t);
    std::vector<bool> listed(num_classes, false);
    for (size_t k = 0; k < classes.size(); ++k) {
      listed[static_cast<size_t>(classes[k])] = true;
      EXPECT_NEAR(ours[static_cast<size_t>(classes[k])], probs[k], 1e-6 * std::max(1.0f, probs[k]) + 1e-7 * probs[k])
          << group << " class " << classes[k];
      EXPECT_NEAR(ours[static_cast<size_t>(classes[k])] / probs[k], 1.0, 1e-5) << group << " class " << classes[k];
    }
    for (size_t c = 0; c < num_classes; ++c)
      if (!listed[c]) {
        EXPECT_EQ(ours[c], 0.0) << "class " << c << " never occurs";
      }
  }
  H5Fclose(f);
}
