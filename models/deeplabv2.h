// DeepLabV2 as in ADVENT (advent/model/deeplabv2.py, 3e58d45:
// get_deeplab_v2 = ResNetMulti): a dilated ResNet trunk with ADVENT's flat
// keys (conv1, bn1, layer1..layer4) and two ClassifierModules, `layer5` on
// layer3 (auxiliary, 1024 channels) and `layer6` on layer4 (main, 2048),
// each the sum of four 3x3 convs with bias and dilation = padding = 6, 12,
// 18, 24 (keys conv2d_list.0-3).
#pragma once

#include <vector>

#include <torch/nn/modules/container/modulelist.h>

#include "models/resnet.h"
#include "models/segmentor.h"

namespace uda::models {

class ClassifierModuleImpl : public torch::nn::Module {
 public:
  ClassifierModuleImpl(int64_t in, const std::vector<int64_t>& dilations, int64_t num_classes);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::ModuleList conv2d_list_;
};
TORCH_MODULE(ClassifierModule);

struct DeepLabV2Config {
  ResNetConfig resnet;           // resnet_config("resnet101")
  int64_t num_classes = 19;
  bool multi_level = true;       // layer5 auxiliary classifier
  std::vector<int64_t> dilations{6, 12, 18, 24};
};

class DeepLabV2Impl : public SegmentorImpl {
 public:
  DeepLabV2Impl(const DeepLabV2Config& cfg, const SegmentorOptions& opt);
  // logits = main (layer6), aux = layer5 (undefined when !multi_level), at 1/8;
  // features = the four layer outputs.
  SegmentorOutput forward(const torch::Tensor& images) override;
  std::vector<torch::Tensor> extract_features(const torch::Tensor& images) override;
  std::vector<torch::Tensor> backbone_parameters() override;
  std::vector<torch::Tensor> head_parameters() override;

 private:
  DeepLabV2Config cfg_;
  ResNetTrunk trunk_;
  ClassifierModule layer5_{nullptr}, layer6_{nullptr};
};

}  // namespace uda::models
