// golden.h5 of the parity set read into tensors with the HDF5 C API, for the
// model tests (the set itself: tests/support/parity_fixture.h).
#pragma once

#include "tests/support/parity_fixture.h"

#include <torch/torch.h>

#include <string>
#include <vector>

namespace uda::test {

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
