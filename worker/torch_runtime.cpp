#include "worker/torch_runtime.h"

#include <torch/torch.h>
#include <torch/version.h>

#include "uda/build_info.h"

#if UDA_HAVE_CUDA
#include <ATen/detail/CUDAHooksInterface.h>
#endif

namespace uda {

std::string torch_runtime_description() {
  std::string s = TORCH_VERSION;
#if UDA_HAVE_CUDA
  // The CUDA runtime libtorch was built with (known without a GPU).
  const long cudart = at::detail::getCUDAHooks().versionCUDART();
  s += ", built with CUDA " + std::to_string(cudart / 1000) + "." + std::to_string(cudart % 1000 / 10);
#else
  s += ", CPU-only build";
#endif
  if (torch::cuda::is_available())
    s += "; " + std::to_string(torch::cuda::device_count()) + " GPU(s) visible";
  else
    s += "; no GPU visible";
  return s;
}

}  // namespace uda
