// Content digests of tensor bytes: xxHash64 (fast, checkpoint checksums) and
// SHA-256 (the parity fixtures' manifests state one per tensor).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace uda::storage {

uint64_t xxh64(const void* data, size_t size, uint64_t seed = 0);
// 16 lowercase hex digits.
std::string xxh64_hex(const void* data, size_t size);
// 64 lowercase hex digits.
std::string sha256_hex(const void* data, size_t size);

}  // namespace uda::storage
