#include "launcher/numpy_reduce.h"

#include <cmath>
#include <cstddef>

namespace uda::cli {

namespace {

// numpy/core/src/umath/loops_utils.h.src, DOUBLE_pairwise_sum.
double pairwise(const double* a, size_t n) {
  if (n < 8) {
    double res = 0.;
    for (size_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (size_t j = 0; j < 8; ++j) r[j] = a[j];
    size_t i = 8;
    for (; i < n - n % 8; i += 8)
      for (size_t j = 0; j < 8; ++j) r[j] += a[i + j];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise(a, n2) + pairwise(a + n2, n - n2);
}

}  // namespace

double np_sum(const std::vector<double>& x) { return pairwise(x.data(), x.size()); }

double np_mean(const std::vector<double>& x) { return np_sum(x) / static_cast<double>(x.size()); }

double np_std(const std::vector<double>& x) {
  const double m = np_mean(x);
  std::vector<double> sq(x.size());
  for (size_t i = 0; i < x.size(); ++i) sq[i] = (x[i] - m) * (x[i] - m);
  return std::sqrt(np_mean(sq));
}

}  // namespace uda::cli
