// Checksums of shard files: xxHash64 (seed 0) of the file bytes, printed as
// 16 lower-case hex digits.
#pragma once

#include <cstdint>
#include <string>

namespace uda::data {

// UserError naming the file when it cannot be read.
uint64_t xxh64_file(const std::string& path);
std::string hex64(uint64_t value);

}  // namespace uda::data
