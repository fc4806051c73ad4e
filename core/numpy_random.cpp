#include "core/numpy_random.h"

#include <openssl/evp.h>

#include <stdexcept>

namespace uda::numpy_random {

std::string py_int(int64_t v) { return std::to_string(v); }

std::string py_str(const std::string& s) {
  // Python prefers single quotes; only names without quotes or backslashes
  // occur here (dataset and algorithm names).
  if (s.find_first_of("'\\\n") != std::string::npos) throw std::invalid_argument("py_str: unsupported character");
  return "'" + s + "'";
}

namespace {
std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + items[i];
  return out;
}
}  // namespace

std::string py_list(const std::vector<std::string>& items) { return "[" + join(items) + "]"; }

std::string py_tuple(const std::vector<std::string>& items) {
  return items.size() == 1 ? "(" + items[0] + ",)" : "(" + join(items) + ")";
}

uint32_t seed_hash(const std::string& python_repr) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(python_repr.data(), python_repr.size(), md, &len, EVP_md5(), nullptr) != 1 || len != 16)
    throw std::runtime_error("EVP_Digest(md5) failed");
  // The 128-bit digest as a big-endian integer, modulo 2^31: only the last
  // 31 bits matter.
  const uint32_t low = (uint32_t(md[12]) << 24) | (uint32_t(md[13]) << 16) | (uint32_t(md[14]) << 8) | md[15];
  return low & 0x7fffffffu;
}

double RandomState::random_sample() {
  const uint32_t a = next_uint32() >> 5, b = next_uint32() >> 6;
  return (a * 67108864.0 + b) / 9007199254740992.0;
}

uint64_t RandomState::interval(uint64_t max) {
  if (max == 0) return 0;
  uint64_t mask = max;
  for (int shift = 1; shift <= 32; shift <<= 1) mask |= mask >> shift;
  uint64_t value;
  if (max <= 0xffffffffULL) {
    do value = next_uint32() & mask;
    while (value > max);
  } else {
    do value = ((uint64_t(next_uint32()) << 32) | next_uint32()) & mask;
    while (value > max);
  }
  return value;
}

std::pair<std::vector<int64_t>, std::vector<int64_t>> split_keys(int64_t n, int64_t n_first, uint32_t seed) {
  std::vector<int64_t> keys(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) keys[static_cast<size_t>(i)] = i;
  RandomState rs(seed);
  rs.shuffle(keys);
  std::vector<int64_t> first(keys.begin(), keys.begin() + n_first), rest(keys.begin() + n_first, keys.end());
  return {std::move(first), std::move(rest)};
}

}  // namespace uda::numpy_random
