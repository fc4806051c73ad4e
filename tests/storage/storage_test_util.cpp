#include "tests/storage/storage_test_util.h"

#include "tests/support/parity_fixture.h"
#include "tests/support/test_support.h"

#include <cstdio>

namespace uda::storage_test {

int run_python(const std::string& script, const std::vector<std::string>& args, std::string* out) {
  std::vector<std::string> argv{uda::test::python_with_torch(), "-c", script};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = uda::test::run_command(argv);
  if (out) *out = r.out;
  if (r.exit_code != 0) fprintf(stderr, "python failed (%d):\n%s\n", r.exit_code, r.err.c_str());
  return r.exit_code;
}

}  // namespace uda::storage_test
