// ResNet-18/34/50/101 with torchvision key names (conv1, bn1, layer1..layer4
// of BasicBlocks with conv1..2, bn1..2 or Bottlenecks with conv1..3, bn1..3,
// and downsample.{0,1}), in the two variants uda needs:
//  - torchvision (torchvision/models/resnet.py, 0.14): BasicBlock for 18/34,
//    Bottleneck with the stride on the 3x3 conv (ResNet v1.5) for 50/101, no
//    dilation, max pool without ceil mode (the classifier ResNets);
//  - DeepLabV2 as in ADVENT (advent/model/deeplabv2.py, 3e58d45): stride on
//    the first 1x1 conv, layer3/layer4 dilated 2/4 with stride 1 (output
//    stride 8), ceil-mode max pool, BatchNorm parameters frozen; resnet50/101
//    only.
#pragma once

#include <array>
#include <functional>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

#include "models/layers/dynamic_conv.h"
#include "models/layers/norm_slot.h"

namespace uda::models {

struct ResNetConfig {
  std::array<int64_t, 4> layers{3, 4, 23, 3};  // 18: 2,2,2,2; 34 and 50: 3,4,6,3; 101: 3,4,23,3
  bool basic_block = false;                     // BasicBlock (18/34) instead of Bottleneck
  int64_t in_channels = 3;                      // of the stem conv1
  bool stride_in_1x1 = true;                    // ADVENT/Caffe style; false = torchvision
  std::array<int64_t, 4> strides{1, 2, 1, 1};   // of layer1..layer4
  std::array<int64_t, 4> dilations{1, 1, 2, 4};
  bool ceil_mode = true;                        // stem max pool
  bool freeze_bn = true;                        // BN affine parameters requires_grad = false
  // Input-conditioned convolutions in the blocks of the stages marked in
  // conv_stages (layer1..layer4): every conv of such a block (not the
  // downsample) is conv.type; CondConv blocks route once from the block
  // input (key `routing.fc.*` of the block).
  ConvChoice conv;
  std::array<bool, 4> conv_stages{false, false, false, false};
  // ASR-Norm in place of every BatchNorm (stem, blocks, downsamples), under
  // the same keys (model.norm = asr_norm; models/layers/norm_slot.h).
  bool asr_norm = false;
};

// The ResNet settings of "resnet50"/"resnet101" as DeepLabV2 backbones
// (ADVENT; resnet18/34 are a UserError), or of resnet18/34/50/101 as
// torchvision classifiers (`deeplab` false).
ResNetConfig resnet_config(const std::string& name, bool deeplab = true);
bool is_resnet_name(const std::string& name);  // resnet18 | resnet34 | resnet50 | resnet101

// [tv] BasicBlock: two 3x3 convs, the stride on the first.
class BasicBlockImpl : public torch::nn::Module {
 public:
  BasicBlockImpl(int64_t inplanes, int64_t planes, int64_t stride, bool downsample,
                 const ConvChoice& conv = ConvChoice{}, bool asr_norm = false);
  torch::Tensor forward(const torch::Tensor& x);
  static constexpr int64_t kExpansion = 1;

  ConvSlot conv1, conv2;
  CondConvRouting routing{nullptr};
  NormSlot bn1, bn2;
  torch::nn::Sequential downsample{nullptr};
};
TORCH_MODULE(BasicBlock);

class BottleneckImpl : public torch::nn::Module {
 public:
  BottleneckImpl(int64_t inplanes, int64_t planes, int64_t stride, int64_t dilation, bool downsample,
                 bool stride_in_1x1, const ConvChoice& conv = ConvChoice{}, bool asr_norm = false);
  torch::Tensor forward(const torch::Tensor& x);
  static constexpr int64_t kExpansion = 4;

  ConvSlot conv1, conv2, conv3;
  CondConvRouting routing{nullptr};
  NormSlot bn1, bn2, bn3;
  torch::nn::Sequential downsample{nullptr};
};
TORCH_MODULE(Bottleneck);

// The trunk: registers conv1, bn1, layer1..layer4 on the module that owns it
// (so a DeepLabV2 keeps ADVENT's flat keys).
class ResNetTrunk {
 public:
  ResNetTrunk() = default;
  ResNetTrunk(torch::nn::Module& owner, const ResNetConfig& cfg);
  // Stem (conv1, bn1, relu, max pool).
  torch::Tensor stem(const torch::Tensor& x);
  torch::Tensor layer(int i, const torch::Tensor& x);  // i in 1..4
  // The four stage maps after layer1..layer4; `hook` (may be null) applied
  // to the input of each stage ("layer1".."layer4").
  std::vector<torch::Tensor> forward(const torch::Tensor& x,
                                     const std::function<torch::Tensor(const std::string&, const torch::Tensor&)>*
                                         hook = nullptr);
  // Channels of the four stage maps: 64..512 (BasicBlock), 256..2048 (Bottleneck).
  std::array<int64_t, 4> out_channels() const;

 private:
  ResNetConfig cfg_;
  torch::nn::Conv2d conv1_{nullptr};
  NormSlot bn1_;
  std::array<torch::nn::Sequential, 4> layers_{torch::nn::Sequential{nullptr}, torch::nn::Sequential{nullptr},
                                               torch::nn::Sequential{nullptr}, torch::nn::Sequential{nullptr}};
};

}  // namespace uda::models
