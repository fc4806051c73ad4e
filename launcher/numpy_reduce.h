// numpy's float64 sum, mean and population std, with numpy's summation
// order (pairwise: sequential below 8 values, eight interleaved accumulators
// up to 128, halves above), so that DomainBed's selection and tables
// (model_selection.py:91, :155; collect_results.py:69-70) round the same way.
#pragma once

#include <vector>

namespace uda::cli {

double np_sum(const std::vector<double>& x);
double np_mean(const std::vector<double>& x);  // np_sum(x) / n
double np_std(const std::vector<double>& x);   // sqrt(np_mean((x - np_mean(x))^2)), ddof 0

}  // namespace uda::cli
