// Small helpers around the HDF5 C API shared by the shard writer and reader.
#pragma once

#include <hdf5.h>

#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace uda::data::h5 {

// Every HDF5 call of the data module holds this lock. Debian's serial HDF5
// is built thread-safe (H5is_library_threadsafe), but even then the library
// serialises calls internally; one lock of our own keeps the code correct
// with a non-thread-safe build too. Decoding and raw reads (pread) happen
// outside of it.
std::mutex& mutex();
// Turns off HDF5's automatic error printing; errors become UserErrors.
void silence_errors();
bool library_threadsafe();

// Owns an hid_t and closes it with the matching H5?close.
class Id {
 public:
  using Closer = herr_t (*)(hid_t);
  Id() = default;
  Id(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  ~Id() { reset(); }
  Id(Id&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)), closer_(o.closer_) {}
  Id& operator=(Id&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = std::exchange(o.id_, H5I_INVALID_HID);
      closer_ = o.closer_;
    }
    return *this;
  }
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset() {
    if (id_ >= 0 && closer_) closer_(id_);
    id_ = H5I_INVALID_HID;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

// Throws std::runtime_error("<what>") when `status` is negative; callers
// turn it into a UserError naming the file.
void check(herr_t status, const char* what);
hid_t check_id(hid_t id, const char* what);

// A creation property list (H5P_DATASET_CREATE, H5P_GROUP_CREATE) without
// modification times, so that the same content gives byte-identical files.
Id create_plist(hid_t cls);

// Writers (the caller holds mutex()).
void write_strings(hid_t loc, const char* name, const std::vector<std::string>& values);
void write_i64(hid_t loc, const char* name, const std::vector<int64_t>& values, std::vector<hsize_t> dims);
void write_i32(hid_t loc, const char* name, const std::vector<int32_t>& values, std::vector<hsize_t> dims);
void write_string_attr(hid_t loc, const char* name, const std::string& value);
void write_i64_attr(hid_t loc, const char* name, int64_t value);

// Readers (the caller holds mutex()).
std::vector<std::string> read_strings(hid_t loc, const char* name);
std::vector<int64_t> read_i64(hid_t loc, const char* name, std::vector<hsize_t>* dims = nullptr);
std::vector<int32_t> read_i32(hid_t loc, const char* name, std::vector<hsize_t>* dims = nullptr);
std::string read_string_attr(hid_t loc, const char* name);
int64_t read_i64_attr(hid_t loc, const char* name);
bool exists(hid_t loc, const char* name);

}  // namespace uda::data::h5
