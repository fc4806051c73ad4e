// Facts about the libtorch this build links, without including torch.
#pragma once

#include <string>

namespace uda {

// "1.13.0 (CPU)" or "2.11.0 (CUDA 13.0, 1 device)".
std::string torch_runtime_description();

}  // namespace uda
