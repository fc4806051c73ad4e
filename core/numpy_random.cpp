#include "core/numpy_random.h"

#include <openssl/evp.h>

#include <cctype>
#include <stdexcept>

namespace uda::numpy_random {

bool is_identifier(const std::string& s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!(std::isalnum(c) || c == '_')) return false;
  return true;
}

namespace {
struct Repr {
  std::string operator()(int64_t v) const { return std::to_string(v); }
  std::string operator()(const std::string& s) const {
    if (!is_identifier(s)) throw std::invalid_argument("seed_hash: not an identifier: " + s);
    return "'" + s + "'";
  }
  std::string operator()(const std::vector<int64_t>& l) const {
    std::string out = "[";
    for (size_t i = 0; i < l.size(); ++i) out += (i ? ", " : "") + std::to_string(l[i]);
    return out + "]";
  }
};
}  // namespace

std::string py_tuple_repr(const std::vector<PyArg>& args) {
  std::string out = "(";
  for (size_t i = 0; i < args.size(); ++i) out += (i ? ", " : "") + std::visit(Repr{}, args[i]);
  return out + (args.size() == 1 ? ",)" : ")");
}

uint32_t seed_hash(const std::vector<PyArg>& args) {
  const std::string text = py_tuple_repr(args);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(text.data(), text.size(), md, &len, EVP_md5(), nullptr) != 1 || len != 16)
    throw std::runtime_error("EVP_Digest(md5) failed");
  // The digest as a big-endian integer modulo 2^31: only its last 31 bits.
  const uint32_t low = (uint32_t{md[12]} << 24) | (uint32_t{md[13]} << 16) | (uint32_t{md[14]} << 8) | md[15];
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
    do value = ((uint64_t{next_uint32()} << 32) | next_uint32()) & mask;
    while (value > max);
  }
  return value;
}

size_t RandomState::choice(size_t n) {
  if (n == 0 || n > 0xffffffffu) throw std::invalid_argument("choice of an empty or too long list");
  return static_cast<size_t>(interval(n - 1));
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
