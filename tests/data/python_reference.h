// The reference implementations the DomainBed-exactness tests compare with:
// small Python scripts embedded in the tests, run with Debian's python3 and
// its torch 1.13, torchvision, numpy and PIL (tests/support/parity_fixture.h
// finds it). Nothing is skipped: a missing interpreter or package fails the
// test with the reason.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace uda::data_test {

// Runs `python -c script args...` and returns its stdout; throws
// std::runtime_error with the script's stderr (e.g. the ImportError naming
// a missing package) when it exits non-zero.
std::string run_reference(const std::string& script, const std::vector<std::string>& args);

// Little-endian reads from a reference output file.
class ReferenceReader {
 public:
  explicit ReferenceReader(const std::string& path);
  bool done() const { return at_ == bytes_.size(); }
  template <typename T>
  T get() {
    T v;
    read(&v, sizeof v);
    return v;
  }
  std::vector<uint8_t> bytes(size_t n);

 private:
  void read(void* out, size_t n);
  std::string path_, bytes_;
  size_t at_ = 0;
};

inline const std::string kFashionMnist = "/usr/share/datasets/fashion-mnist";

}  // namespace uda::data_test
