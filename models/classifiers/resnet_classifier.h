// torchvision's ResNet-18/34/50/101 (torchvision 0.14 models/resnet.py) as a
// classifier, DomainBed's ResNet featurizer (domainbed/networks.py:108-162,
// b93c22a) with its classifier as `fc`. Keys are torchvision's (conv1, bn1,
// layer1..layer4.N.{conv1,bn1,conv2,bn2[,conv3,bn3][,downsample.0/1]}, fc), so
// a torchvision ImageNet state dict loads by name; features are the 512-d
// (18/34) or 2048-d (50/101) average-pooled layer4 output.
//
// Random initialisation is torchvision's: convs kaiming_normal_(fan_out,
// relu), BatchNorm weight 1 and bias 0, `fc` PyTorch's default.
#pragma once

#include <string>

#include "models/classifiers/classifier.h"
#include "models/resnet.h"
#include "storage/tensor_data.h"

namespace uda::models {

class ResNetClassifierImpl : public ClassifierImpl {
 public:
  // `name`: resnet18 | resnet34 | resnet50 | resnet101.
  // ClassifierConfig::conv applies to the stages named in conv_layers
  // (layer1..layer4; default all four).
  // asr_norm: ASR-Norm in place of every BatchNorm (model.norm = asr_norm).
  ResNetClassifierImpl(const std::string& name, const ClassifierConfig& cfg, bool asr_norm = false);
  static std::vector<std::string> layer_names() { return {"layer1", "layer2", "layer3", "layer4"}; }
  std::vector<std::pair<std::string, int64_t>> hook_points() const override;
  // layer1..layer4 (64..512 or 256..2048 channels), after their last ReLU.
  std::vector<int64_t> stage_channels() const override;

 protected:
  torch::Tensor featurize(const torch::Tensor& x, const ActivationHook* hook) override;
  torch::Tensor featurize_stages(const torch::Tensor& x, std::vector<torch::Tensor>* stage_maps) override;

 private:
  ResNetTrunk trunk_;
};

// DomainBed's channel adaptation (networks.py:126-135) applied to a state
// dict: the stem weight `key` ([64, c, 7, 7] in the file) is replaced by one
// with `in_channels` input channels whose channel i is the file's channel
// i % c. Nothing changes when the key is absent or already has in_channels.
void adapt_input_channels(storage::StateDict& sd, const std::string& key, int64_t in_channels);

}  // namespace uda::models
