#include "tests/data/python_reference.h"

#include "tests/support/parity_fixture.h"
#include "tests/support/test_support.h"

#include <cstring>
#include <stdexcept>

namespace uda::data_test {

std::string run_reference(const std::string& script, const std::vector<std::string>& args) {
  std::vector<std::string> argv{uda::test::python_with_torch(), "-c", script};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = uda::test::run_command(argv);
  if (r.exit_code != 0)
    throw std::runtime_error("reference script failed (exit " + std::to_string(r.exit_code) + "): " + r.err + r.out);
  return r.out;
}

ReferenceReader::ReferenceReader(const std::string& path) : path_(path), bytes_(uda::test::read_text(path)) {}

void ReferenceReader::read(void* out, size_t n) {
  if (at_ + n > bytes_.size()) throw std::runtime_error("reference file " + path_ + " ends early");
  std::memcpy(out, bytes_.data() + at_, n);
  at_ += n;
}

std::vector<uint8_t> ReferenceReader::bytes(size_t n) {
  std::vector<uint8_t> out(n);
  read(out.data(), n);
  return out;
}

}  // namespace uda::data_test
