// A classification network for the classification / domain-generalization
// track, split as DomainBed splits it (algorithms.py ERM: network =
// Sequential(featurizer, classifier)) so that alignment losses (CORAL, MMD,
// DANN, ...) can take the features:
//
//   features(x)  -> [N, D]   the featurizer, including the feature dropout
//                            (DomainBed's ResNet applies resnet_dropout inside
//                            its featurizer, networks.py:147-149)
//   classify(f)  -> [N, C]   logits
//   forward(x)   =  classify(features(x))
//
// The classifier is the child `fc` (torchvision's name): a Linear
// (DomainBed networks.py:250-259 Classifier) or DomainBed's nonlinear
// classifier Linear(D, D/2)-ReLU-Linear(D/2, D/4)-ReLU-Linear(D/4, C) (keys
// fc.0, fc.2, fc.4). The featurizer's keys are the official ones of each
// network (models/classifiers/mnist_cnn.h, resnet_classifier.h).
//
// Build from config with models/builder.h build_classifier.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>

#include <functional>
#include <string>
#include <vector>

#include "models/layers/dynamic_conv.h"

namespace uda::models {

enum class ClassifierHead { Linear, Mlp };

struct ClassifierConfig {
  int64_t in_channels = 3;
  int64_t num_classes = 10;
  ClassifierHead head = ClassifierHead::Linear;
  // Dropout on the features (train mode only), drawn per sample
  // (models/layers/sample_randomness.h).
  double dropout = 0.0;
  // BatchNorm layers stay in eval mode while the network trains: running
  // statistics are used and not updated; affine parameters still train
  // (DomainBed ResNet.freeze_bn, networks.py:151-162).
  bool freeze_bn = true;
  // Input-conditioned convolutions (models/layers/dynamic_conv.h): the
  // type, and the layers that take it (names of layer_names(); empty = the
  // network's default_conv_layers()).
  ConvChoice conv;
  std::vector<std::string> conv_layers;
};

// A function applied to the activation ENTERING a named point of the
// network (domain-specific masks, DMG): returns the activation to use.
using ActivationHook = std::function<torch::Tensor(const std::string& point, const torch::Tensor& x)>;

class ClassifierImpl : public torch::nn::Module {
 public:
  torch::Tensor features(const torch::Tensor& x);
  torch::Tensor classify(const torch::Tensor& features);
  torch::Tensor forward(const torch::Tensor& x) { return classify(features(x)); }
  // forward with `hook` applied at each point of hook_points() in order;
  // "fc" is the classifier's input (the features after the dropout).
  torch::Tensor forward_hooked(const torch::Tensor& x, const ActivationHook& hook);
  // The network's points, input side first, "fc" last (MNIST_CNN: conv1..conv4,
  // ResNet: layer1..layer4), and the channels entering each.
  virtual std::vector<std::pair<std::string, int64_t>> hook_points() const = 0;

  // The network's stages, for methods that work on intermediate feature
  // maps (CSG's contrastive stages): channels of stage 1..n; empty when the
  // network exposes none (mnist_cnn: its maps are GroupNorm outputs).
  virtual std::vector<int64_t> stage_channels() const { return {}; }
  // features(x), and in `stage_maps` (when not null) the maps [N, C_s, H_s,
  // W_s] of stages 1..n from the same forward pass.
  torch::Tensor features(const torch::Tensor& x, std::vector<torch::Tensor>* stage_maps);

  int64_t feature_dim() const { return feature_dim_; }
  int64_t num_classes() const { return cfg_.num_classes; }
  const ClassifierConfig& config() const { return cfg_; }

  // Module::train, then every BatchNorm back to eval mode under freeze_bn
  // (DomainBed ResNet.train). eval() goes through here too.
  void train(bool on = true) override;

 protected:
  explicit ClassifierImpl(const ClassifierConfig& cfg) : cfg_(cfg) {}
  // Called last by each network's constructor: registers `fc` on features of
  // `feature_dim` (after the featurizer, so the state dict lists it last, as
  // torchvision's) and applies freeze_bn.
  void register_head(int64_t feature_dim);
  // The featurizer without the dropout: [N, D]; `hook` (may be null) at the
  // points before "fc".
  virtual torch::Tensor featurize(const torch::Tensor& x, const ActivationHook* hook) = 0;
  // featurize(x) that also hands out the stage maps; networks with stages
  // override it (the default has none).
  virtual torch::Tensor featurize_stages(const torch::Tensor& x, std::vector<torch::Tensor>* stage_maps) {
    return featurize(x, nullptr);
  }

 private:
  ClassifierConfig cfg_;
  int64_t feature_dim_ = 0;
  torch::nn::Linear linear_{nullptr};  // `fc` of a linear head
  torch::nn::Sequential mlp_{nullptr};  // `fc` of an mlp head
};
using Classifier = std::shared_ptr<ClassifierImpl>;

}  // namespace uda::models
