// ADVENT's fully-convolutional discriminator (advent/model/discriminator.py,
// 3e58d45, get_fc_discriminator): five 4x4 stride-2 padding-1 convs with bias,
// num_classes -> ndf -> 2ndf -> 4ndf -> 8ndf -> 1, LeakyReLU(0.2) between
// them. A Sequential, so keys are 0.*, 2.*, 4.*, 6.*, 8.* as in the official
// state dict.
#pragma once

#include <torch/nn/modules/container/sequential.h>

namespace uda::models {

torch::nn::Sequential make_fc_discriminator(int64_t num_classes = 19, int64_t ndf = 64);

}  // namespace uda::models
