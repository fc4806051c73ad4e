#include "worker/ema.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace uda::worker {

double ema_alpha(double alpha, int64_t iter) {
  return std::min(1.0 - 1.0 / (static_cast<double>(iter) + 1.0), alpha);
}

double ema_alpha_for_batch(double alpha, double reference_batch, double batch) {
  return std::pow(alpha, batch / reference_batch);
}

void ema_update(const std::vector<at::Tensor>& teacher, const std::vector<at::Tensor>& student, double a) {
  if (teacher.size() != student.size()) throw std::invalid_argument("ema_update: teacher/student size mismatch");
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < teacher.size(); ++i) {
    auto& t = const_cast<at::Tensor&>(teacher[i]);
    if (!t.is_floating_point()) {  // e.g. num_batches_tracked: copied
      t.copy_(student[i]);
      continue;
    }
    // Same float arithmetic as the official `alpha * ema + (1 - alpha) * param`.
    t.copy_(t * a + student[i].detach() * (1.0 - a));
  }
}

}  // namespace uda::worker
