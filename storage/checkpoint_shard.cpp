#include "storage/checkpoint_shard.h"

#include "core/error.h"
#include "core/fs.h"

#include <hdf5.h>

#include <sys/stat.h>

namespace uda::storage {

namespace {

// Silences HDF5's automatic error stack printing for this thread while alive
// (the stack is per thread in the thread-safe HDF5 build).
class QuietHdf5 {
 public:
  QuietHdf5() {
    H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~QuietHdf5() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

hid_t file_type(DType t) {
  switch (t) {
    case DType::Float32: return H5T_IEEE_F32LE;
    case DType::Float64: return H5T_IEEE_F64LE;
    case DType::Float16:
    case DType::BFloat16: return H5T_STD_U16LE;
    case DType::Int64: return H5T_STD_I64LE;
    case DType::Int32: return H5T_STD_I32LE;
    case DType::Int16: return H5T_STD_I16LE;
    case DType::Int8: return H5T_STD_I8LE;
    case DType::UInt8:
    case DType::Bool: return H5T_STD_U8LE;
  }
  return H5T_STD_U8LE;
}

[[noreturn]] void fail(const std::string& what, const std::string& path) {
  throw UserError(what, path, "check free disk space and the file system");
}

}  // namespace

std::string shard_dataset_name(const std::string& group, const std::string& tensor_name) {
  std::string out = "/" + group + "/";
  for (char c : tensor_name) {
    if (c == '/') out += "%2F";
    else if (c == '%') out += "%25";
    else out += c;
  }
  if (tensor_name.empty() || tensor_name == "." || tensor_name == "..") out += "%";  // not valid HDF5 names
  return out;
}

ShardWriter::ShardWriter(const std::string& path) : path_(path) {
  QuietHdf5 quiet;
  file_ = H5Fcreate(path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
  if (file_ < 0) fail("cannot create checkpoint shard", path);
}

ShardWriter::~ShardWriter() {
  if (file_ >= 0) {
    QuietHdf5 quiet;
    H5Fclose(file_);
  }
}

void ShardWriter::write(const std::string& dataset, DType dtype, const uint8_t* data, int64_t count) {
  QuietHdf5 quiet;
  hsize_t dims[1] = {static_cast<hsize_t>(count)};
  hid_t space = H5Screate_simple(1, dims, nullptr);
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t type = file_type(dtype);
  hid_t ds = H5Dcreate2(file_, dataset.c_str(), type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  H5Pclose(lcpl);
  H5Sclose(space);
  if (ds < 0) fail("cannot create dataset " + dataset + " in checkpoint shard", path_);
  herr_t rc = count > 0 ? H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : 0;
  H5Dclose(ds);
  if (rc < 0) fail("writing dataset " + dataset + " of checkpoint shard failed", path_);
}

uint64_t ShardWriter::close() {
  QuietHdf5 quiet;
  herr_t rc = H5Fclose(file_);
  file_ = -1;
  if (rc < 0) fail("closing checkpoint shard failed (disk full?)", path_);
  try {
    fs_util::fsync_path(path_);
  } catch (const std::exception& e) {
    fail(std::string("fsync of checkpoint shard failed: ") + e.what(), path_);
  }
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) fail("checkpoint shard vanished after writing", path_);
  return static_cast<uint64_t>(st.st_size);
}

ShardReader::ShardReader(const std::string& path) : path_(path) {
  QuietHdf5 quiet;
  file_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file_ < 0) throw UserError("cannot open checkpoint shard (missing or not HDF5)", path, "");
}

ShardReader::~ShardReader() {
  if (file_ >= 0) {
    QuietHdf5 quiet;
    H5Fclose(file_);
  }
}

void ShardReader::read(const std::string& dataset, DType dtype, int64_t count, uint8_t* out) const {
  QuietHdf5 quiet;
  hid_t ds = H5Dopen2(file_, dataset.c_str(), H5P_DEFAULT);
  if (ds < 0) throw UserError("dataset " + dataset + " missing in checkpoint shard", path_, "");
  hid_t space = H5Dget_space(ds);
  hsize_t dims[1] = {0};
  int nd = space >= 0 ? H5Sget_simple_extent_dims(space, dims, nullptr) : -1;
  if (space >= 0) H5Sclose(space);
  if (nd != 1 || dims[0] != static_cast<hsize_t>(count)) {
    H5Dclose(ds);
    throw UserError("dataset " + dataset + " has the wrong size", path_, "");
  }
  herr_t rc = count > 0 ? H5Dread(ds, file_type(dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, out) : 0;
  H5Dclose(ds);
  if (rc < 0) throw UserError("reading dataset " + dataset + " of checkpoint shard failed (truncated?)", path_, "");
}

}  // namespace uda::storage
