// Rare Class Sampling against the official probabilities
// (the parity set's golden.h5, /helpers/rcs).
#include "core/error.h"
#include "data/pipeline/rare_class_sampler.h"

#include "tests/support/parity_fixture.h"

#include <gtest/gtest.h>
#include <hdf5.h>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace dp = uda::data::pipeline;

namespace {


template <class T>
std::vector<T> read_all(hid_t file, const std::string& path, hid_t mem_type, std::vector<hsize_t>* dims_out) {
  hid_t ds = H5Dopen2(file, path.c_str(), H5P_DEFAULT);
  if (ds < 0) throw std::runtime_error("missing dataset " + path);
  hid_t sp = H5Dget_space(ds);
  int rank = H5Sget_simple_extent_ndims(sp);
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(sp, dims.data(), nullptr);
  size_t n = 1;
  for (auto d : dims) n *= d;
  std::vector<T> v(n);
  H5Dread(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
  H5Sclose(sp);
  H5Dclose(ds);
  if (dims_out) *dims_out = dims;
  return v;
}

herr_t collect_group(hid_t, const char* name, const H5L_info_t*, void* out) {
  static_cast<std::vector<std::string>*>(out)->push_back(name);
  return 0;
}

TEST(RareClassTable, MatchesOfficialProbabilitiesForEveryTemperature) {
  const std::string path = uda::test::parity_golden();
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0) << "cannot open " << path;
  std::vector<hsize_t> dims;
  auto flat = read_all<int64_t>(f, "/helpers/rcs/sample_class_stats", H5T_NATIVE_INT64, &dims);
  ASSERT_EQ(dims.size(), 2u);
  std::vector<std::vector<int64_t>> per_image(dims[0]);
  for (hsize_t i = 0; i < dims[0]; ++i)
    per_image[i].assign(flat.begin() + static_cast<long>(i * dims[1]), flat.begin() + static_cast<long>((i + 1) * dims[1]));

  std::vector<std::string> groups;
  hid_t g = H5Gopen2(f, "/helpers/rcs", H5P_DEFAULT);
  H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_group, &groups);
  H5Gclose(g);
  int cases = 0;
  for (const auto& name : groups) {
    if (name.rfind("T", 0) != 0) continue;  // the T<temperature> groups
    const double T = std::stod(name.substr(1));
    auto classes = read_all<int64_t>(f, "/helpers/rcs/" + name + "/classes", H5T_NATIVE_INT64, nullptr);
    auto probs = read_all<float>(f, "/helpers/rcs/" + name + "/probs", H5T_NATIVE_FLOAT, nullptr);
    auto table = dp::RareClassTable::build(per_image, T, 0);
    ASSERT_EQ(table.classes.size(), classes.size()) << name;
    for (size_t k = 0; k < classes.size(); ++k) {
      EXPECT_EQ(table.classes[k], classes[k]) << name << " entry " << k;
      EXPECT_NEAR(table.probs[k], probs[k], 2e-7 + 1e-6 * probs[k]) << name << " class " << classes[k];
    }
    ++cases;
  }
  H5Fclose(f);
  EXPECT_GE(cases, 2);
}

TEST(RareClassTable, ImagesNeedStrictlyMoreThanMinPixels) {
  std::vector<std::vector<int64_t>> rows = {{100, 5}, {100, 6}, {100, 7}, {100, 0}};
  auto t = dp::RareClassTable::build(rows, 0.1, 6);
  ASSERT_EQ(t.classes, (std::vector<int>{1, 0}));  // ascending count
  EXPECT_EQ(t.images[0], (std::vector<int64_t>{2}));  // > 6 only
  EXPECT_EQ(t.images[1], (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_THROW(dp::RareClassTable::build(rows, 0.1, 7), uda::UserError);
  EXPECT_THROW(dp::RareClassTable::build(rows, 0.0, 0), uda::UserError);
}

TEST(RareClassSampler, DrawFrequenciesFollowTheProbabilities) {
  std::vector<std::vector<int64_t>> rows;
  for (int i = 0; i < 30; ++i) rows.push_back({5000, i < 10 ? 400 : 0, i % 2 ? 1500 : 0});
  auto table = dp::RareClassTable::build(rows, 0.1, 0);
  dp::RareClassSampler s(table, 5);
  std::map<int, int> hist;
  const int n = 20000;
  for (int64_t t = 0; t < n; ++t) {
    auto ref = s.draw({t, 0, t});
    ASSERT_GE(ref.rare_class, 0);
    // The image really holds the class.
    EXPECT_GT(rows[ref.index][ref.rare_class], 0);
    hist[ref.rare_class]++;
  }
  for (size_t k = 0; k < table.classes.size(); ++k) {
    const double p = table.probs[k];
    EXPECT_NEAR(hist[table.classes[k]] / double(n), p, 4 * std::sqrt(p * (1 - p) / n) + 1e-3);
  }
}

}  // namespace
