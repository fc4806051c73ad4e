// Model assembly from config (keys `model.*`, declared in builder.cpp and
// documented in docs/MODELS.md).
//
//   auto net = uda::models::build_segmentor(cfg);   // + model.pretrained
//   auto logits = net->predict(images);             // (N, C, H, W)
//
// Backbones: mit_b0..mit_b5 (heads daformer | segformer) and resnet50 /
// resnet101 (head deeplabv2, ADVENT's DeepLabV2).
//
// Classifiers (classification / domain-generalization track): head linear |
// mlp on mnist_cnn | resnet18 | resnet34 | resnet50 | resnet101.
//
//   auto net = uda::models::build_classifier(cfg);  // + model.pretrained
//   auto f = net->features(x);                      // (N, D), for alignment losses
//   auto logits = net->classify(f);                 // (N, C)
#pragma once

#include <array>
#include <string>
#include <vector>

#include "models/classifiers/classifier.h"
#include "models/segmentor.h"
#include "models/weights.h"

namespace uda::config {
class Config;
}

namespace uda::models {

struct ModelSpec {
  std::string backbone = "mit_b5";
  double drop_path_rate = 0.1;
  double drop_rate = 0.0;
  double attn_drop_rate = 0.0;
  bool checkpoint_activations = false;
  std::string head = "daformer";  // daformer | segformer | deeplabv2; classifiers: linear | mlp
  int64_t channels = 256;         // head width (DAFormer/SegFormer conv_seg input)
  int64_t embed_dims = 256;       // per-level embedding (DAFormer) / embed_dim (SegFormer)
  std::string fusion = "aspp";    // DAFormer: aspp | conv
  bool sep = true;
  std::vector<int64_t> dilations{1, 6, 12, 18};
  bool pool = false;
  int64_t fusion_kernel = 1;      // DAFormer conv fusion / SegFormer conv_kernel_size
  double dropout_ratio = 0.1;
  bool multi_level = true;        // DeepLabV2 auxiliary classifier (layer5)
  int64_t num_classes = 19;
  std::string pretrained;          // .pth loaded at build time ("" = none)
  std::string pretrained_key_prefix;
  SegmentorOptions options;
  // Classifiers only (build_classifier).
  int64_t in_channels = 3;
  double dropout = 0.0;           // on the features (DomainBed resnet_dropout)
  int64_t image_size = 28;        // ada_cnn's input side (its flatten size)
  std::string norm = "none";      // ada_cnn: none | asr_norm
  bool freeze_bn = true;          // BatchNorm in eval mode while training
  // Input-conditioned convolutions (model.conv.*, models/layers/dynamic_conv.h).
  std::string conv_type = "static";  // static | dynamic | condconv
  std::vector<std::string> conv_layers;
  int64_t conv_experts = 4;
  double conv_reduction = 0.25;
  double temperature_start = 30.0;
  int64_t temperature_iters = 1000;
};

// The ConvChoice of model.conv.*; UserError naming the key for an unknown
// type, fewer than 1 expert or a bad temperature schedule.
ConvChoice conv_choice(const ModelSpec& spec);

// linear | mlp: the head types that make build_classifier's networks.
bool is_classifier_head(const std::string& head);

ModelSpec model_spec(const config::Config& cfg);
// Builds the network (random init); does not load `pretrained`.
Segmentor build_segmentor(const ModelSpec& spec);
// build_segmentor + load_pretrained.
Segmentor build_segmentor(const config::Config& cfg);

// Loads spec.pretrained non-strictly the way the official code initialises
// training: MiT ImageNet files go into the backbone (mmseg
// MixVisionTransformer.init_weights, "head.*" ignored); ResNet files (torchvision
// or ADVENT's, after removing pretrained_key_prefix such as "Scale.") into the
// DeepLabV2 trunk, "fc.*" ignored. Returns the report (logged by the caller).
LoadReport load_pretrained(SegmentorImpl& net, const ModelSpec& spec);

// Loads a segmentor checkpoint strictly: `prefix` selects the network in a
// DACS checkpoint ("model." student, "ema_model." teacher, "imnet_model.").
LoadReport load_segmentor_weights(SegmentorImpl& net, const std::string& path, const std::string& prefix = "",
                                  bool strict = true);

// Builds a classifier network (random init): head linear | mlp on
// mnist_cnn, resnet18, resnet34, resnet50 or resnet101; does not load
// `pretrained`. UserError naming the key for a combination that does not exist.
Classifier build_classifier(const ModelSpec& spec);
// build_classifier + load_pretrained.
Classifier build_classifier(const config::Config& cfg);

// Loads spec.pretrained (e.g. torchvision's ImageNet resnet18/50 .pth) into a
// classifier, after removing pretrained_key_prefix. The featurizer loads
// strictly. A ResNet stem with other than the file's channel count is adapted
// as DomainBed does (adapt_input_channels). The file's `fc.*` loads when it
// fits the head; otherwise the head is replaced, as DomainBed replaces
// torchvision's fc by its own classifier: the report then lists the head's
// keys as missing and the file's fc.* as unexpected, the expected mismatch.
LoadReport load_pretrained(ClassifierImpl& net, const ModelSpec& spec);

}  // namespace uda::models
