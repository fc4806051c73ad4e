// Helpers shared by the storage tests: running Python with torch.
#pragma once

#include <string>
#include <vector>

namespace uda::storage_test {

// Runs `python -c script` (args appended) with Debian's python3 that imports
// torch (tests/support/parity_fixture.h; throws naming the packages when
// there is none); returns its exit code, stdout in *out.
int run_python(const std::string& script, const std::vector<std::string>& args, std::string* out);

}  // namespace uda::storage_test
