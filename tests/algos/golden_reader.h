// Reading the parity set's golden.h5 into tensors (HDF5 C API).
#pragma once

#include <gtest/gtest.h>
#include <hdf5.h>
#include <torch/torch.h>

#include "tests/support/parity_fixture.h"

#include <cstdlib>
#include <string>
#include <vector>

namespace uda::test {

class GoldenFile {
 public:
  GoldenFile() {
    const std::string path = parity_golden();
    file_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file_ < 0) ADD_FAILURE() << "cannot open " << path;
  }
  ~GoldenFile() {
    if (file_ >= 0) H5Fclose(file_);
  }
  GoldenFile(const GoldenFile&) = delete;
  GoldenFile& operator=(const GoldenFile&) = delete;
  bool ok() const { return file_ >= 0; }

  // Names of the children of a group (every case the fixture lists).
  std::vector<std::string> children(const std::string& group) const {
    std::vector<std::string> out;
    hid_t g = H5Gopen2(file_, group.c_str(), H5P_DEFAULT);
    if (g < 0) return out;
    H5G_info_t info;
    H5Gget_info(g, &info);
    for (hsize_t i = 0; i < info.nlinks; ++i) {
      char name[256] = {0};
      H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof(name), H5P_DEFAULT);
      out.emplace_back(name);
    }
    H5Gclose(g);
    return out;
  }

  // A dataset as a CPU tensor of `dtype` (float32, float64, int64 or uint8).
  torch::Tensor tensor(const std::string& name, torch::ScalarType dtype) const {
    hid_t ds = H5Dopen2(file_, name.c_str(), H5P_DEFAULT);
    EXPECT_GE(ds, 0) << name;
    if (ds < 0) return {};
    hid_t space = H5Dget_space(ds);
    const int rank = H5Sget_simple_extent_ndims(space);
    std::vector<hsize_t> dims(static_cast<size_t>(rank));
    if (rank > 0) H5Sget_simple_extent_dims(space, dims.data(), nullptr);
    std::vector<int64_t> shape(dims.begin(), dims.end());
    auto t = torch::empty(shape, torch::TensorOptions().dtype(dtype));
    H5Dread(ds, mem_type(dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data_ptr());
    H5Sclose(space);
    H5Dclose(ds);
    return t;
  }

  bool has_attr(const std::string& obj, const char* name) const {
    return H5Aexists_by_name(file_, obj.c_str(), name, H5P_DEFAULT) > 0;
  }
  double attr_double(const std::string& obj, const char* name) const {
    double v = 0;
    read_attr(obj, name, H5T_NATIVE_DOUBLE, &v);
    return v;
  }
  int64_t attr_int64(const std::string& obj, const char* name) const {
    int64_t v = 0;
    read_attr(obj, name, H5T_NATIVE_INT64, &v);
    return v;
  }
  std::vector<int64_t> attr_int64_array(const std::string& obj, const char* name) const {
    hid_t o = H5Oopen(file_, obj.c_str(), H5P_DEFAULT);
    hid_t a = H5Aopen(o, name, H5P_DEFAULT);
    hid_t space = H5Aget_space(a);
    const hssize_t n = H5Sget_simple_extent_npoints(space);
    std::vector<int64_t> v(static_cast<size_t>(n));
    H5Aread(a, H5T_NATIVE_INT64, v.data());
    H5Sclose(space);
    H5Aclose(a);
    H5Oclose(o);
    return v;
  }

 private:
  static hid_t mem_type(torch::ScalarType t) {
    switch (t) {
      case torch::kFloat64: return H5T_NATIVE_DOUBLE;
      case torch::kInt64: return H5T_NATIVE_INT64;
      case torch::kUInt8: return H5T_NATIVE_UINT8;
      default: return H5T_NATIVE_FLOAT;
    }
  }
  void read_attr(const std::string& obj, const char* name, hid_t type, void* out) const {
    hid_t o = H5Oopen(file_, obj.c_str(), H5P_DEFAULT);
    hid_t a = H5Aopen(o, name, H5P_DEFAULT);
    EXPECT_GE(a, 0) << obj << "@" << name;
    if (a >= 0) {
      H5Aread(a, type, out);
      H5Aclose(a);
    }
    H5Oclose(o);
  }
  hid_t file_ = -1;
};

}  // namespace uda::test
