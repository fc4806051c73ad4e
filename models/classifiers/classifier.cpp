// The featurizer/classifier split shared by every classifier network, the two
// classifier heads and freeze_bn. Source: DomainBed b93c22a
// domainbed/networks.py [db].
#include "models/classifiers/classifier.h"

#include <torch/torch.h>

#include "models/layers/fast_weights.h"
#include "models/layers/sample_randomness.h"

namespace uda::models {

torch::Tensor ClassifierImpl::features(const torch::Tensor& x) {
  // [db] ResNet.forward (:147-149): dropout(network(x)); drawn per sample so
  // that a sample's mask does not depend on its rank or batch row.
  return sample_dropout(featurize(x, nullptr), cfg_.dropout, is_training());
}

torch::Tensor ClassifierImpl::forward_hooked(const torch::Tensor& x, const ActivationHook& hook) {
  auto f = sample_dropout(featurize(x, &hook), cfg_.dropout, is_training());
  return classify(hook("fc", f));
}

torch::Tensor ClassifierImpl::features(const torch::Tensor& x, std::vector<torch::Tensor>* stage_maps) {
  if (!stage_maps) return features(x);
  return sample_dropout(featurize_stages(x, stage_maps), cfg_.dropout, is_training());
}

torch::Tensor ClassifierImpl::classify(const torch::Tensor& features) {
  if (linear_) return linear(*linear_, features);
  // The mlp head's Linear-ReLU-Linear-ReLU-Linear, layer by layer so that the
  // Linears fetch their parameters through fast_weight().
  torch::Tensor y = features;
  for (const auto& m : mlp_->children()) {
    if (auto* l = m->as<torch::nn::LinearImpl>()) y = linear(*l, y);
    else y = torch::relu(y);
  }
  return y;
}

void ClassifierImpl::train(bool on) {
  torch::nn::Module::train(on);
  // [db] ResNet.train / freeze_bn (:151-162): BatchNorm2d modules to eval.
  if (cfg_.freeze_bn)
    for (auto& m : modules(/*include_self=*/false))
      if (auto* bn = m->as<torch::nn::BatchNorm2dImpl>()) bn->eval();
}

void ClassifierImpl::register_head(int64_t feature_dim) {
  namespace nn = torch::nn;
  feature_dim_ = feature_dim;
  const int64_t d = feature_dim, c = cfg_.num_classes;
  // [db] Classifier (:250-259): Linear(d, c), or with is_nonlinear
  // Linear(d, d/2)-ReLU-Linear(d/2, d/4)-ReLU-Linear(d/4, c); PyTorch default
  // initialisation (libtorch's Linear draws the same, tested).
  if (cfg_.head == ClassifierHead::Linear) {
    linear_ = register_module("fc", nn::Linear(d, c));
  } else {
    // One statement per layer: the initialisation draws in layer order
    // (the evaluation order of constructor arguments is unspecified).
    mlp_ = register_module("fc", nn::Sequential());
    mlp_->push_back(nn::Linear(d, d / 2));
    mlp_->push_back(nn::ReLU());
    mlp_->push_back(nn::Linear(d / 2, d / 4));
    mlp_->push_back(nn::ReLU());
    mlp_->push_back(nn::Linear(d / 4, c));
  }
  train(is_training());  // [db] ResNet.__init__ (:141-142) applies freeze_bn at construction
}

}  // namespace uda::models
