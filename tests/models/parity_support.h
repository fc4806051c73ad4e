// Access to the parity fixture for the model tests: the fixture directory
// (env UDA_PARITY_DIR, else the build's default), the official .pth files
// rebuilt once into a cache under the test's working directory, and golden.h5
// read with the HDF5 C API.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

namespace uda::test {

// The fixture directory; fails the calling test (via exception) when missing.
std::string parity_dir();
// Path of `<name>` (e.g. "daformer_mitb0.pth") rebuilt from its manifest by
// scripts/rebuild_parity_weights.py into ./parity-weights (once per process;
// the script itself is idempotent and atomic across processes).
std::string parity_weights(const std::string& pth_name);

// Relative error used by every parity check: max|a - b| / max|b|.
double relative_error(const torch::Tensor& actual, const torch::Tensor& expected);

class H5File {
 public:
  explicit H5File(const std::string& path);
  ~H5File();
  H5File(const H5File&) = delete;
  H5File& operator=(const H5File&) = delete;

  std::vector<std::string> datasets(const std::string& group) const;  // names, sorted
  bool has(const std::string& path) const;
  torch::Tensor read(const std::string& path) const;                  // float32/64, int64, uint8
  std::string string_attr(const std::string& object, const std::string& name) const;
  std::vector<double> numeric_attr(const std::string& object, const std::string& name) const;
  int64_t int_attr(const std::string& object, const std::string& name) const;

 private:
  long long file_;  // hid_t
};

}  // namespace uda::test
