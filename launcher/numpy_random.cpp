#include "launcher/numpy_random.h"

#include <stdexcept>

namespace uda::cli {

double NumpyRandomState::random_sample() {
  const uint32_t a = static_cast<uint32_t>(mt_()) >> 5;
  const uint32_t b = static_cast<uint32_t>(mt_()) >> 6;
  return (a * 67108864.0 + b) / 9007199254740992.0;
}

double NumpyRandomState::uniform(double low, double high) { return low + (high - low) * random_sample(); }

size_t NumpyRandomState::choice_index(size_t n) {
  if (n == 0 || n > 0xffffffffu) throw std::invalid_argument("choice of an empty or too long list");
  const uint32_t max = static_cast<uint32_t>(n - 1);
  if (max == 0) return 0;  // numpy draws nothing for a one-element range
  uint32_t mask = max;
  for (int shift = 1; shift < 32; shift <<= 1) mask |= mask >> shift;
  uint32_t v;
  do v = static_cast<uint32_t>(mt_()) & mask;
  while (v > max);
  return v;
}

}  // namespace uda::cli
