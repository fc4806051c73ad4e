// torchvision ResNet classifiers, DomainBed's channel adaptation. Sources:
// torchvision 0.14 models/resnet.py [tv]; DomainBed b93c22a
// domainbed/networks.py [db].
#include "models/classifiers/resnet_classifier.h"

#include <torch/torch.h>

#include <algorithm>

#include "models/tensor_convert.h"

namespace uda::models {

ResNetClassifierImpl::ResNetClassifierImpl(const std::string& name, const ClassifierConfig& cfg, bool asr_norm)
    : ClassifierImpl(cfg) {
  auto rc = resnet_config(name, /*deeplab=*/false);
  rc.in_channels = cfg.in_channels;
  rc.asr_norm = asr_norm;
  rc.conv = cfg.conv;
  for (int l = 0; l < 4; ++l)
    rc.conv_stages[l] = cfg.conv_layers.empty() || std::find(cfg.conv_layers.begin(), cfg.conv_layers.end(),
                                                             layer_names()[l]) != cfg.conv_layers.end();
  trunk_ = ResNetTrunk(*this, rc);
  register_head(trunk_.out_channels()[3]);  // [db] n_outputs 512 / 2048 (:112-117)
  // [tv] ResNet.__init__ (:208-213), after every module (fc included) is
  // built: convs kaiming_normal_(mode fan_out, relu), in module order;
  // BatchNorm weight 1, bias 0 is libtorch's default already.
  torch::NoGradGuard no_grad;
  for (auto& m : modules(/*include_self=*/false))
    if (auto* conv = m->as<torch::nn::Conv2dImpl>())
      torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
}

torch::Tensor ResNetClassifierImpl::featurize(const torch::Tensor& x, const ActivationHook* hook) {
  // [tv] _forward_impl (:266-282) up to flatten, fc being [db]'s Identity (:138-139).
  return torch::adaptive_avg_pool2d(trunk_.forward(x, hook).back(), {1, 1}).flatten(1);
}

std::vector<std::pair<std::string, int64_t>> ResNetClassifierImpl::hook_points() const {
  const auto c = trunk_.out_channels();
  return {{"layer1", 64}, {"layer2", c[0]}, {"layer3", c[1]}, {"layer4", c[2]}, {"fc", c[3]}};
}

torch::Tensor ResNetClassifierImpl::featurize_stages(const torch::Tensor& x, std::vector<torch::Tensor>* stage_maps) {
  auto maps = trunk_.forward(x);
  auto f = torch::adaptive_avg_pool2d(maps.back(), {1, 1}).flatten(1);
  if (stage_maps) *stage_maps = std::move(maps);
  return f;
}

std::vector<int64_t> ResNetClassifierImpl::stage_channels() const {
  const auto c = trunk_.out_channels();
  return {c.begin(), c.end()};
}

void adapt_input_channels(storage::StateDict& sd, const std::string& key, int64_t in_channels) {
  for (auto& [name, tensor] : sd) {
    if (name != key || tensor.shape.size() != 4 || tensor.shape[1] == in_channels) continue;
    // [db] :127-135: conv1.weight[:, i] = pretrained[:, i % 3] for i < nc.
    const auto src = to_torch(tensor);
    const auto index = torch::arange(in_channels, torch::kLong).remainder(src.size(1));
    tensor = from_torch(src.index_select(1, index).contiguous());
  }
}

}  // namespace uda::models
