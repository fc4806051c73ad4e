#include "models/discriminator.h"

#include <torch/torch.h>

namespace uda::models {

torch::nn::Sequential make_fc_discriminator(int64_t num_classes, int64_t ndf) {
  namespace nn = torch::nn;
  // ADVENT advent/model/discriminator.py get_fc_discriminator: 4x4 kernels,
  // stride 2, padding 1; LeakyReLU(negative_slope=0.2) after all but the last.
  auto conv = [](int64_t in, int64_t out) { return nn::Conv2d(nn::Conv2dOptions(in, out, 4).stride(2).padding(1)); };
  auto lrelu = [] { return nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2).inplace(true)); };
  return nn::Sequential(conv(num_classes, ndf), lrelu(), conv(ndf, ndf * 2), lrelu(), conv(ndf * 2, ndf * 4), lrelu(),
                        conv(ndf * 4, ndf * 8), lrelu(), conv(ndf * 8, 1));
}

}  // namespace uda::models
