#include "data/hdf5_util.h"

#include <stdexcept>

namespace uda::data::h5 {

std::mutex& mutex() {
  static std::mutex m;
  return m;
}

void silence_errors() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

bool library_threadsafe() {
  hbool_t ts = 0;
  H5is_library_threadsafe(&ts);
  return ts != 0;
}

void check(herr_t status, const char* what) {
  if (status < 0) throw std::runtime_error(what);
}

hid_t check_id(hid_t id, const char* what) {
  if (id < 0) throw std::runtime_error(what);
  return id;
}

Id create_plist(hid_t cls) {
  Id plist(check_id(H5Pcreate(cls), "H5Pcreate"), H5Pclose);
  check(H5Pset_obj_track_times(plist.get(), 0), "H5Pset_obj_track_times");
  return plist;
}

namespace {
Id simple_space(const std::vector<hsize_t>& dims) {
  return Id(check_id(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), "H5Screate_simple"),
            H5Sclose);
}

template <typename T>
void write_numeric(hid_t loc, const char* name, const std::vector<T>& values, std::vector<hsize_t> dims, hid_t file_type,
                   hid_t mem_type) {
  hsize_t n = 1;
  for (auto d : dims) n *= d;
  if (n != values.size()) throw std::logic_error(std::string("write ") + name + ": size mismatch");
  auto space = simple_space(dims);
  Id ds(check_id(H5Dcreate2(loc, name, file_type, space.get(), H5P_DEFAULT, create_plist(H5P_DATASET_CREATE).get(), H5P_DEFAULT), name),
        H5Dclose);
  if (n > 0) check(H5Dwrite(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), name);
}

template <typename T>
std::vector<T> read_numeric(hid_t loc, const char* name, std::vector<hsize_t>* dims_out, hid_t mem_type) {
  Id ds(check_id(H5Dopen2(loc, name, H5P_DEFAULT), name), H5Dclose);
  Id space(check_id(H5Dget_space(ds.get()), name), H5Sclose);
  int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) throw std::runtime_error(name);
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  hsize_t n = 1;
  for (auto d : dims) n *= d;
  std::vector<T> out(n);
  if (n > 0) check(H5Dread(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), name);
  if (dims_out) *dims_out = dims;
  return out;
}
}  // namespace

void write_strings(hid_t loc, const char* name, const std::vector<std::string>& values) {
  Id type(check_id(H5Tcopy(H5T_C_S1), "H5Tcopy"), H5Tclose);
  check(H5Tset_size(type.get(), H5T_VARIABLE), "H5Tset_size");
  check(H5Tset_cset(type.get(), H5T_CSET_UTF8), "H5Tset_cset");
  std::vector<const char*> ptrs;
  for (const auto& v : values) ptrs.push_back(v.c_str());
  auto space = simple_space({values.size()});
  Id ds(check_id(H5Dcreate2(loc, name, type.get(), space.get(), H5P_DEFAULT, create_plist(H5P_DATASET_CREATE).get(), H5P_DEFAULT), name),
        H5Dclose);
  if (!values.empty()) check(H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), name);
}

void write_i64(hid_t loc, const char* name, const std::vector<int64_t>& values, std::vector<hsize_t> dims) {
  write_numeric(loc, name, values, std::move(dims), H5T_STD_I64LE, H5T_NATIVE_INT64);
}

void write_i32(hid_t loc, const char* name, const std::vector<int32_t>& values, std::vector<hsize_t> dims) {
  write_numeric(loc, name, values, std::move(dims), H5T_STD_I32LE, H5T_NATIVE_INT32);
}

void write_string_attr(hid_t loc, const char* name, const std::string& value) {
  Id type(check_id(H5Tcopy(H5T_C_S1), "H5Tcopy"), H5Tclose);
  check(H5Tset_size(type.get(), H5T_VARIABLE), "H5Tset_size");
  Id space(check_id(H5Screate(H5S_SCALAR), "H5Screate"), H5Sclose);
  Id attr(check_id(H5Acreate2(loc, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), name), H5Aclose);
  const char* p = value.c_str();
  check(H5Awrite(attr.get(), type.get(), &p), name);
}

void write_i64_attr(hid_t loc, const char* name, int64_t value) {
  Id space(check_id(H5Screate(H5S_SCALAR), "H5Screate"), H5Sclose);
  Id attr(check_id(H5Acreate2(loc, name, H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT), name), H5Aclose);
  check(H5Awrite(attr.get(), H5T_NATIVE_INT64, &value), name);
}

std::vector<std::string> read_strings(hid_t loc, const char* name) {
  Id ds(check_id(H5Dopen2(loc, name, H5P_DEFAULT), name), H5Dclose);
  Id space(check_id(H5Dget_space(ds.get()), name), H5Sclose);
  hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n < 0) throw std::runtime_error(name);
  Id type(check_id(H5Tcopy(H5T_C_S1), "H5Tcopy"), H5Tclose);
  check(H5Tset_size(type.get(), H5T_VARIABLE), "H5Tset_size");
  std::vector<char*> ptrs(static_cast<size_t>(n), nullptr);
  std::vector<std::string> out;
  if (n == 0) return out;
  check(H5Dread(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), name);
  for (char* p : ptrs) out.emplace_back(p ? p : "");
  H5Dvlen_reclaim(type.get(), space.get(), H5P_DEFAULT, ptrs.data());
  return out;
}

std::vector<int64_t> read_i64(hid_t loc, const char* name, std::vector<hsize_t>* dims) {
  return read_numeric<int64_t>(loc, name, dims, H5T_NATIVE_INT64);
}

std::vector<int32_t> read_i32(hid_t loc, const char* name, std::vector<hsize_t>* dims) {
  return read_numeric<int32_t>(loc, name, dims, H5T_NATIVE_INT32);
}

std::string read_string_attr(hid_t loc, const char* name) {
  Id attr(check_id(H5Aopen(loc, name, H5P_DEFAULT), name), H5Aclose);
  Id type(check_id(H5Tcopy(H5T_C_S1), "H5Tcopy"), H5Tclose);
  check(H5Tset_size(type.get(), H5T_VARIABLE), "H5Tset_size");
  char* p = nullptr;
  check(H5Aread(attr.get(), type.get(), &p), name);
  std::string out = p ? p : "";
  H5free_memory(p);
  return out;
}

int64_t read_i64_attr(hid_t loc, const char* name) {
  Id attr(check_id(H5Aopen(loc, name, H5P_DEFAULT), name), H5Aclose);
  int64_t v = 0;
  check(H5Aread(attr.get(), H5T_NATIVE_INT64, &v), name);
  return v;
}

bool exists(hid_t loc, const char* name) { return H5Lexists(loc, name, H5P_DEFAULT) > 0; }

}  // namespace uda::data::h5
