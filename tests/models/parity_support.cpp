#include "tests/models/parity_support.h"

#include <hdf5.h>

#include <filesystem>
#include <stdexcept>


namespace uda::test {

double relative_error(const torch::Tensor& actual, const torch::Tensor& expected) {
  if (actual.sizes() != expected.sizes())
    throw std::runtime_error("shape mismatch: " + c10::str(actual.sizes()) + " vs " + c10::str(expected.sizes()));
  auto a = actual.detach().to(torch::kFloat64), b = expected.detach().to(torch::kFloat64);
  const double denom = b.abs().max().item<double>();
  const double diff = (a - b).abs().max().item<double>();
  return denom > 0 ? diff / denom : diff;
}

H5File::H5File(const std::string& path) {
  file_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file_ < 0) throw std::runtime_error("cannot open " + path);
}

H5File::~H5File() { H5Fclose(file_); }

namespace {
// HDF5 1.10 API (Debian 12).
herr_t collect(hid_t group, const char* name, const H5L_info_t*, void* data) {
  H5O_info_t info;
  if (H5Oget_info_by_name2(group, name, &info, H5O_INFO_BASIC, H5P_DEFAULT) >= 0 && info.type == H5O_TYPE_DATASET)
    static_cast<std::vector<std::string>*>(data)->push_back(name);
  return 0;
}
}  // namespace

std::vector<std::string> H5File::datasets(const std::string& group) const {
  std::vector<std::string> names;
  hid_t g = H5Gopen2(file_, group.c_str(), H5P_DEFAULT);
  if (g < 0) throw std::runtime_error("no group " + group);
  hsize_t idx = 0;
  H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, collect, &names);
  H5Gclose(g);
  return names;
}

bool H5File::has(const std::string& path) const { return H5Lexists(file_, path.c_str(), H5P_DEFAULT) > 0; }

torch::Tensor H5File::read(const std::string& path) const {
  hid_t d = H5Dopen2(file_, path.c_str(), H5P_DEFAULT);
  if (d < 0) throw std::runtime_error("no dataset " + path);
  hid_t space = H5Dget_space(d);
  const int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> dims(rank);
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  std::vector<int64_t> shape(dims.begin(), dims.end());
  hid_t type = H5Dget_type(d);
  const auto cls = H5Tget_class(type);
  const size_t size = H5Tget_size(type);
  torch::ScalarType st;
  hid_t mem;
  if (cls == H5T_FLOAT && size == 4) st = torch::kFloat32, mem = H5T_NATIVE_FLOAT;
  else if (cls == H5T_FLOAT && size == 8) st = torch::kFloat64, mem = H5T_NATIVE_DOUBLE;
  else if (cls == H5T_INTEGER && size == 8) st = torch::kInt64, mem = H5T_NATIVE_INT64;
  else if (cls == H5T_INTEGER && size == 1) st = torch::kUInt8, mem = H5T_NATIVE_UINT8;
  else {
    H5Tclose(type), H5Sclose(space), H5Dclose(d);
    throw std::runtime_error("unsupported dtype in " + path);
  }
  auto t = torch::empty(shape, torch::TensorOptions().dtype(st));
  const herr_t rc = H5Dread(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data_ptr());
  H5Tclose(type), H5Sclose(space), H5Dclose(d);
  if (rc < 0) throw std::runtime_error("cannot read " + path);
  return t;
}

std::string H5File::string_attr(const std::string& object, const std::string& name) const {
  hid_t a = H5Aopen_by_name(file_, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0) throw std::runtime_error("no attribute " + object + "@" + name);
  hid_t ftype = H5Aget_type(a);
  std::string out;
  if (H5Tis_variable_str(ftype) > 0) {
    hid_t mem = H5Tcopy(H5T_C_S1);
    H5Tset_size(mem, H5T_VARIABLE);
    H5Tset_cset(mem, H5T_CSET_UTF8);
    char* buf = nullptr;
    if (H5Aread(a, mem, &buf) >= 0 && buf) out = buf;
    if (buf) H5free_memory(buf);
    H5Tclose(mem);
  } else {
    const size_t n = H5Tget_size(ftype);
    std::string buf(n, '\0');
    hid_t mem = H5Tcopy(H5T_C_S1);
    H5Tset_size(mem, n);
    H5Aread(a, mem, buf.data());
    H5Tclose(mem);
    out = buf.c_str();
  }
  H5Tclose(ftype);
  H5Aclose(a);
  return out;
}

std::vector<double> H5File::numeric_attr(const std::string& object, const std::string& name) const {
  hid_t a = H5Aopen_by_name(file_, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0) throw std::runtime_error("no attribute " + object + "@" + name);
  hid_t space = H5Aget_space(a);
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  std::vector<double> v(static_cast<size_t>(n));
  H5Aread(a, H5T_NATIVE_DOUBLE, v.data());
  H5Sclose(space);
  H5Aclose(a);
  return v;
}

int64_t H5File::int_attr(const std::string& object, const std::string& name) const {
  auto v = numeric_attr(object, name);
  if (v.size() != 1) throw std::runtime_error("attribute " + object + "@" + name + " is not a scalar");
  return static_cast<int64_t>(v[0]);
}

}  // namespace uda::test
