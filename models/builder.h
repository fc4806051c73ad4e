// Model assembly from config (keys `model.*`, declared in builder.cpp and
// documented in docs/MODELS.md).
//
//   auto net = uda::models::build_segmentor(cfg);   // + model.pretrained
//   auto logits = net->predict(images);             // (N, C, H, W)
//
// Backbones: mit_b0..mit_b5 (heads daformer | segformer) and resnet50 /
// resnet101 (head deeplabv2, ADVENT's DeepLabV2).
#pragma once

#include <array>
#include <string>
#include <vector>

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
  std::string head = "daformer";  // daformer | segformer | deeplabv2
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
};

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

}  // namespace uda::models
