#include "worker/torch_runtime.h"

#include <torch/torch.h>
#include <torch/version.h>

namespace uda {

std::string torch_runtime_description() {
  std::string s = TORCH_VERSION;
  if (torch::cuda::is_available())
    s += " (CUDA, " + std::to_string(torch::cuda::device_count()) + " device(s))";
  else
    s += " (CPU)";
  return s;
}

}  // namespace uda
