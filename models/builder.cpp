#include "models/builder.h"

#include <torch/torch.h>

#include <algorithm>
#include <map>

#include "core/config.h"
#include "core/error.h"
#include "core/schema.h"
#include "models/classifiers/ada_cnn.h"
#include "models/classifiers/mnist_cnn.h"
#include "models/classifiers/resnet_classifier.h"
#include "models/daformer_head.h"
#include "models/deeplabv2.h"
#include "models/mit.h"
#include "models/segformer_head.h"

namespace uda::models {
namespace {
using config::Type;
using nlohmann::json;

// Defaults reproduce DAFormer's configs/_base_/models/daformer_sepaspp_mitb5.py.
const config::KeyRegistrar kModelKeys({
    {"model.backbone.type", Type::String, "mit_b5",
     "Backbone: mit_b0..mit_b5 | resnet50 | resnet101 (segmentors); mnist_cnn | ada_cnn (ADA/M-ADA digits net) | resnet18 | "
     "resnet34 | resnet50 | resnet101 (classifiers, head linear | mlp).",
     false,
     {"mit_b0", "mit_b1", "mit_b2", "mit_b3", "mit_b4", "mit_b5", "mnist_cnn", "ada_cnn", "resnet18", "resnet34",
      "resnet50", "resnet101"}},
    {"model.backbone.drop_path_rate", Type::Number, 0.1, "MiT stochastic depth rate (linear over blocks)."},
    {"model.backbone.drop_rate", Type::Number, 0.0, "MiT dropout after attention projection and in the MLP."},
    {"model.backbone.attn_drop_rate", Type::Number, 0.0, "MiT dropout on attention weights."},
    {"model.backbone.checkpoint_activations", Type::Bool, false,
     "Recompute MiT blocks in backward to save memory on large crops."},
    {"model.head.type", Type::String, "daformer",
     "Decode head: daformer | segformer | deeplabv2; or a classifier head, which makes the network a classifier: "
     "linear (DomainBed Classifier) | mlp (DomainBed's nonlinear classifier, Linear(d,d/2)-ReLU-Linear(d/2,d/4)-"
     "ReLU-Linear(d/4,C)).",
     false,
     {"daformer", "segformer", "deeplabv2", "linear", "mlp"}},
    {"model.head.channels", Type::Int, 256, "Head width (decode_head.channels)."},
    {"model.head.embed_dims", Type::Int, 256, "Per-level embedding width (DAFormer embed_dims, SegFormer embed_dim)."},
    {"model.head.fusion", Type::String, "aspp", "DAFormer fusion: aspp (sepaspp) | conv (conv1).", false,
     {"aspp", "conv"}},
    {"model.head.sep", Type::Bool, true, "DAFormer ASPP: depthwise-separable branches."},
    {"model.head.dilations", Type::Array, json::array({1, 6, 12, 18}), "DAFormer ASPP dilations."},
    {"model.head.pool", Type::Bool, false, "DAFormer ASPP: image pooling branch."},
    {"model.head.fusion_kernel", Type::Int, 1, "Kernel of the DAFormer conv fusion / SegFormer linear_fuse."},
    {"model.head.dropout_ratio", Type::Number, 0.1, "Dropout2d before the classifier."},
    {"model.head.multi_level", Type::Bool, true, "DeepLabV2: auxiliary classifier on layer3 (layer5)."},
    {"model.num_classes", Type::Int, 19, "Number of classes."},
    {"model.in_channels", Type::Int, 3,
     "Classifiers: input channels (RotatedFMNIST 1, ColoredFMNIST 2); a pretrained ResNet stem is adapted as "
     "DomainBed (channel i copies pretrained channel i % 3)."},
    {"model.image_size", Type::Int, 28,
     "Classifiers: ada_cnn's input side (its flatten size depends on it; the official digits are 32, uda's "
     "Fashion-MNIST domains 28)."},
    {"model.norm", Type::String, "none",
     "Classifiers: normalization layers: none (the network's own: ada_cnn none, as the official ADA/M-ADA "
     "ConvNet; mnist_cnn GroupNorm; ResNet BatchNorm) | asr_norm (ASR-Norm, Fan et al. CVPR 2021; "
     "models/layers/asr_norm.h: after each conv of ada_cnn, in place of mnist_cnn's GroupNorms and of every "
     "BatchNorm of a ResNet classifier, under the same keys; a pretrained file's BatchNorm entries are then not "
     "loaded).",
     false, {"none", "asr_norm"}},
    {"model.dropout", Type::Number, 0.0,
     "Classifiers: dropout on the features before the classifier (DomainBed resnet_dropout), drawn per sample."},
    {"model.freeze_bn", Type::Bool, true,
     "Classifiers: BatchNorm layers stay in eval mode while training (running statistics frozen, affine "
     "parameters still trained), as in DomainBed's published results; false = DomainBed's current default."},
    {"model.pretrained", Type::String, "", "Official .pth used to initialise the backbone (\"\" = random)."},
    {"model.pretrained_key_prefix", Type::String, "", "Prefix removed from the keys of model.pretrained (e.g. Scale.)."},
    {"model.conv.type", Type::String, "static",
     "Classifiers: the convolutions of model.conv.layers: static | dynamic (Dynamic Convolution, Chen et al. CVPR "
     "2020: softmax attention over model.conv.experts kernels) | condconv (CondConv, Yang et al. NeurIPS 2019: "
     "sigmoid routing over model.conv.experts experts, once per block).",
     false, {"static", "dynamic", "condconv"}},
    {"model.conv.layers", Type::Array, json::array(),
     "Classifiers: layers that take model.conv.type: mnist_cnn conv1..conv4 (default conv2, conv3, conv4), "
     "ResNet stages layer1..layer4 (every conv of their blocks but the downsample; default all four)."},
    {"model.conv.experts", Type::Int, 4,
     "Kernels per dynamic convolution (K, paper default 4) or experts per CondConv layer (4 or 8 in the paper)."},
    {"model.conv.reduction", Type::Number, 0.25,
     "Dynamic Convolution's attention: hidden width int(C * reduction) + 1 (official ratio 0.25)."},
    {"model.conv.temperature_start", Type::Number, 30.0,
     "Dynamic Convolution's softmax temperature at iteration 0 (paper: 30), falling linearly to 1."},
    {"model.conv.temperature_iters", Type::Int, 1000,
     "Iterations over which the temperature falls to 1 and then stays (the paper: the first 10 epochs); 0 = 1 "
     "throughout."},
    {"model.align_corners", Type::Bool, false, "align_corners of the final logits resize (ADVENT eval: true)."},
    {"model.test.mode", Type::String, "whole", "Inference mode: whole | slide.", false, {"whole", "slide"}},
    {"model.test.crop_size", Type::Array, json::array({512, 512}), "Slide inference crop (h, w)."},
    {"model.test.stride", Type::Array, json::array({341, 341}), "Slide inference stride (h, w)."},
});

template <class T>
T get_or(const config::Config& cfg, const std::string& path, T fallback) {
  return cfg.has(path) && !cfg.at(path).is_null() ? cfg.at(path).get<T>() : fallback;
}

std::array<int64_t, 2> pair_of(const config::Config& cfg, const std::string& path, std::array<int64_t, 2> fallback) {
  if (!cfg.has(path)) return fallback;
  const auto& v = cfg.at(path);
  if (!v.is_array() || v.size() != 2 || !v[0].is_number_integer() || !v[1].is_number_integer() ||
      v[0].get<int64_t>() <= 0 || v[1].get<int64_t>() <= 0)
    throw UserError(path + " must be two positive integers [h, w]", cfg.origin(path), "e.g. [512, 512]");
  return {v[0].get<int64_t>(), v[1].get<int64_t>()};
}
}  // namespace

ModelSpec model_spec(const config::Config& cfg) {
  ModelSpec s;
  s.backbone = get_or<std::string>(cfg, "model.backbone.type", s.backbone);
  s.drop_path_rate = get_or<double>(cfg, "model.backbone.drop_path_rate", s.drop_path_rate);
  s.drop_rate = get_or<double>(cfg, "model.backbone.drop_rate", s.drop_rate);
  s.attn_drop_rate = get_or<double>(cfg, "model.backbone.attn_drop_rate", s.attn_drop_rate);
  s.checkpoint_activations = get_or<bool>(cfg, "model.backbone.checkpoint_activations", s.checkpoint_activations);
  s.head = get_or<std::string>(cfg, "model.head.type", s.head);
  s.channels = get_or<int64_t>(cfg, "model.head.channels", s.channels);
  s.embed_dims = get_or<int64_t>(cfg, "model.head.embed_dims", s.embed_dims);
  s.fusion = get_or<std::string>(cfg, "model.head.fusion", s.fusion);
  s.sep = get_or<bool>(cfg, "model.head.sep", s.sep);
  if (cfg.has("model.head.dilations")) s.dilations = cfg.at("model.head.dilations").get<std::vector<int64_t>>();
  s.pool = get_or<bool>(cfg, "model.head.pool", s.pool);
  s.fusion_kernel = get_or<int64_t>(cfg, "model.head.fusion_kernel", s.fusion_kernel);
  s.dropout_ratio = get_or<double>(cfg, "model.head.dropout_ratio", s.dropout_ratio);
  s.multi_level = get_or<bool>(cfg, "model.head.multi_level", s.multi_level);
  s.num_classes = get_or<int64_t>(cfg, "model.num_classes", s.num_classes);
  s.pretrained = get_or<std::string>(cfg, "model.pretrained", s.pretrained);
  s.pretrained_key_prefix = get_or<std::string>(cfg, "model.pretrained_key_prefix", s.pretrained_key_prefix);
  s.options.align_corners = get_or<bool>(cfg, "model.align_corners", false);
  s.options.test_mode = get_or<std::string>(cfg, "model.test.mode", "whole") == "slide" ? TestMode::Slide
                                                                                         : TestMode::Whole;
  s.options.crop = pair_of(cfg, "model.test.crop_size", s.options.crop);
  s.options.stride = pair_of(cfg, "model.test.stride", s.options.stride);
  s.in_channels = get_or<int64_t>(cfg, "model.in_channels", s.in_channels);
  s.dropout = get_or<double>(cfg, "model.dropout", s.dropout);
  s.image_size = get_or<int64_t>(cfg, "model.image_size", s.image_size);
  s.norm = get_or<std::string>(cfg, "model.norm", s.norm);
  s.freeze_bn = get_or<bool>(cfg, "model.freeze_bn", s.freeze_bn);
  s.conv_type = get_or<std::string>(cfg, "model.conv.type", s.conv_type);
  if (cfg.has("model.conv.layers")) s.conv_layers = cfg.at("model.conv.layers").get<std::vector<std::string>>();
  s.conv_experts = get_or<int64_t>(cfg, "model.conv.experts", s.conv_experts);
  s.conv_reduction = get_or<double>(cfg, "model.conv.reduction", s.conv_reduction);
  s.temperature_start = get_or<double>(cfg, "model.conv.temperature_start", s.temperature_start);
  s.temperature_iters = get_or<int64_t>(cfg, "model.conv.temperature_iters", s.temperature_iters);
  return s;
}

bool is_classifier_head(const std::string& head) { return head == "linear" || head == "mlp"; }

Segmentor build_segmentor(const ModelSpec& s) {
  if (s.num_classes <= 0)
    throw UserError("model.num_classes must be positive", "model.num_classes", "set it to the dataset's classes");
  if (is_classifier_head(s.head))
    throw UserError("head '" + s.head + "' makes a classifier, not a segmentation network", "model.head.type",
                    "segmentation algorithms need daformer, segformer or deeplabv2; linear and mlp are for "
                    "classification algorithms");
  if (s.in_channels != 3)
    throw UserError("model.in_channels is " + std::to_string(s.in_channels) + " but segmentation networks take RGB",
                    "model.in_channels", "leave it at 3 (it is for classifier networks)");
  if (s.dropout != 0.0)
    throw UserError("model.dropout is for classifier networks", "model.dropout",
                    "leave it at 0; segmentation heads use model.head.dropout_ratio");
  if (s.norm != "none")
    throw UserError("model.norm " + s.norm + " is for classifier networks, not segmentation networks", "model.norm",
                    "leave it at none, or use a classification algorithm with mnist_cnn, ada_cnn or a ResNet");
  if (is_mit_name(s.backbone)) {
    auto mc = mit_config(s.backbone);
    mc.drop_path_rate = s.drop_path_rate;
    mc.drop_rate = s.drop_rate;
    mc.attn_drop_rate = s.attn_drop_rate;
    mc.checkpoint_activations = s.checkpoint_activations;
    auto backbone = std::make_shared<MixVisionTransformerImpl>(mc);
    std::shared_ptr<DecodeHeadImpl> head;
    if (s.head == "daformer") {
      DAFormerHeadConfig hc;
      hc.in_channels = backbone->out_channels();
      hc.channels = s.channels, hc.embed_dims = s.embed_dims, hc.num_classes = s.num_classes;
      hc.dropout_ratio = s.dropout_ratio, hc.align_corners = s.options.align_corners;
      hc.fusion = s.fusion, hc.sep = s.sep, hc.dilations = s.dilations, hc.pool = s.pool;
      hc.fusion_kernel = s.fusion_kernel;
      head = std::make_shared<DAFormerHeadImpl>(hc);
    } else if (s.head == "segformer") {
      SegFormerHeadConfig hc;
      hc.in_channels = backbone->out_channels();
      hc.embed_dim = s.embed_dims, hc.channels = s.channels, hc.conv_kernel_size = s.fusion_kernel;
      hc.num_classes = s.num_classes, hc.dropout_ratio = s.dropout_ratio;
      head = std::make_shared<SegFormerHeadImpl>(hc);
    } else {
      throw UserError("head '" + s.head + "' does not fit backbone " + s.backbone, "model.head.type",
                      "use daformer or segformer with MiT backbones, deeplabv2 with resnet50/resnet101");
    }
    return std::make_shared<EncoderDecoderImpl>(backbone, head, s.options);
  }
  if (is_resnet_name(s.backbone)) {
    if (s.head != "deeplabv2")
      throw UserError("head '" + s.head + "' does not fit backbone " + s.backbone, "model.head.type",
                      "use deeplabv2 with resnet50/resnet101, daformer or segformer with MiT backbones");
    DeepLabV2Config dc;
    dc.resnet = resnet_config(s.backbone, /*deeplab=*/true);
    dc.num_classes = s.num_classes;
    dc.multi_level = s.multi_level;
    return std::make_shared<DeepLabV2Impl>(dc, s.options);
  }
  throw UserError("backbone '" + s.backbone + "' has no segmentation network", "model.backbone.type",
                  "use mit_b0..mit_b5, resnet50 or resnet101 (mnist_cnn, resnet18 and resnet34 are classifier "
                  "backbones: model.head.type linear or mlp)");
}

ConvChoice conv_choice(const ModelSpec& s) {
  ConvChoice c;
  if (s.conv_type == "static") c.type = ConvType::Static;
  else if (s.conv_type == "dynamic") c.type = ConvType::Dynamic;
  else if (s.conv_type == "condconv") c.type = ConvType::CondConv;
  else
    throw UserError("unknown model.conv.type '" + s.conv_type + "'", "model.conv.type",
                    "use static, dynamic or condconv");
  if (s.conv_experts < 1)
    throw UserError("model.conv.experts is " + std::to_string(s.conv_experts) + ", must be at least 1",
                    "model.conv.experts", "use 4 (Dynamic Convolution's K, CondConv-4e) or 8 (CondConv-8e)");
  if (!(s.conv_reduction > 0.0))
    throw UserError("model.conv.reduction must be positive", "model.conv.reduction", "use 0.25 (official)");
  if (!(s.temperature_start >= 1.0))
    throw UserError("model.conv.temperature_start must be at least 1", "model.conv.temperature_start",
                    "use 30 (the paper)");
  if (s.temperature_iters < 0)
    throw UserError("model.conv.temperature_iters must not be negative", "model.conv.temperature_iters",
                    "use the iterations of the paper's first 10 epochs, or 0 for temperature 1");
  c.condconv_experts = s.conv_experts;
  c.dynamic.experts = s.conv_experts;
  c.dynamic.reduction = s.conv_reduction;
  c.dynamic.temperature_start = s.temperature_start;
  c.dynamic.temperature_iters = s.temperature_iters;
  return c;
}

Classifier build_classifier(const ModelSpec& s) {
  if (!is_classifier_head(s.head))
    throw UserError("head '" + s.head + "' is not a classifier head", "model.head.type",
                    "use linear or mlp for a classification network");
  if (s.num_classes <= 0)
    throw UserError("model.num_classes must be positive", "model.num_classes", "set it to the dataset's classes");
  if (s.in_channels < 1)
    throw UserError("model.in_channels is " + std::to_string(s.in_channels) + ", must be at least 1",
                    "model.in_channels", "set it to the images' channels (1 RotatedFMNIST, 2 ColoredFMNIST, 3 RGB)");
  if (!(s.dropout >= 0.0 && s.dropout < 1.0))
    throw UserError("model.dropout is " + std::to_string(s.dropout) + ", must be in [0, 1)", "model.dropout",
                    "use 0 (DomainBed's default) or a rate such as 0.1 or 0.5");
  ClassifierConfig c;
  c.conv = conv_choice(s);
  c.conv_layers = s.conv_layers;
  const auto layers = s.backbone == "mnist_cnn" ? MnistCnnImpl::layer_names() : ResNetClassifierImpl::layer_names();
  for (const auto& l : s.conv_layers)
    if (std::find(layers.begin(), layers.end(), l) == layers.end()) {
      std::string known;
      for (const auto& n : layers) known += (known.empty() ? "" : ", ") + n;
      throw UserError("model.conv.layers names '" + l + "', which " + s.backbone + " does not have",
                      "model.conv.layers", "use layers of " + s.backbone + ": " + known);
    }
  c.in_channels = s.in_channels;
  c.num_classes = s.num_classes;
  c.head = s.head == "linear" ? ClassifierHead::Linear : ClassifierHead::Mlp;
  c.dropout = s.dropout;
  c.freeze_bn = s.freeze_bn;
  const bool asr = s.norm == "asr_norm";
  if (s.backbone == "mnist_cnn") return std::make_shared<MnistCnnImpl>(c, asr);
  if (s.backbone == "ada_cnn") return std::make_shared<AdaCnnImpl>(c, s.image_size, asr);
  if (is_resnet_name(s.backbone)) return std::make_shared<ResNetClassifierImpl>(s.backbone, c, asr);
  throw UserError("backbone '" + s.backbone + "' has no classifier network", "model.backbone.type",
                  "with head linear or mlp use mnist_cnn, ada_cnn, resnet18, resnet34, resnet50 or resnet101");
}

LoadReport load_pretrained(SegmentorImpl& net, const ModelSpec& spec) {
  if (spec.pretrained.empty()) return {};
  LoadOptions o;
  o.strict = false;
  o.prefix = spec.pretrained_key_prefix;
  o.source = spec.pretrained;
  if (auto* ed = dynamic_cast<EncoderDecoderImpl*>(&net)) {
    o.ignore = {"head."};  // the ImageNet classifier of MiT files
    return load_pth(ed->backbone(), spec.pretrained, o);
  }
  o.ignore = {"fc.", "layer5.", "layer6."};  // classifiers are trained from scratch
  return load_pth(net, spec.pretrained, o);
}

LoadReport load_segmentor_weights(SegmentorImpl& net, const std::string& path, const std::string& prefix,
                                  bool strict) {
  LoadOptions o;
  o.prefix = prefix;
  o.strict = strict;
  o.source = path;
  return load_pth(net, path, o);
}

Segmentor build_segmentor(const config::Config& cfg) {
  auto spec = model_spec(cfg);
  auto net = build_segmentor(spec);
  load_pretrained(*net, spec);
  return net;
}

LoadReport load_pretrained(ClassifierImpl& net, const ModelSpec& spec) {
  if (spec.pretrained.empty()) return {};
  auto sd = read_pth(spec.pretrained);
  const std::string& prefix = spec.pretrained_key_prefix;
  if (dynamic_cast<ResNetClassifierImpl*>(&net))  // [DomainBed networks.py:126-135]
    adapt_input_channels(sd, prefix + "conv1.weight", net.config().in_channels);

  // Does the file's classifier fit the head (same keys, same shapes)?
  std::map<std::string, std::vector<int64_t>> head, file_head;
  for (const auto& item : net.named_parameters())
    if (item.key().rfind("fc.", 0) == 0) head[item.key()] = item.value().sizes().vec();
  for (const auto& [key, t] : sd)
    if (key.rfind(prefix + "fc.", 0) == 0) file_head[key.substr(prefix.size())] = t.shape;
  const bool fits = head == file_head;

  LoadOptions o;
  o.prefix = prefix;
  o.source = spec.pretrained;
  if (!fits) o.ignore = {"fc."};  // [DomainBed networks.py:137-139] fc replaced by the algorithm's classifier
  // ASR-Norm layers replace the file's BatchNorms under their keys: the
  // file's statistics and affine parameters of those layers are not used,
  // the ASR layers keep their initialisation (they start as InstanceNorm
  // with a near-identity affine), everything else loads strictly.
  for (const auto& item : net.named_modules("", /*include_self=*/false))
    if (item.value()->as<AsrNormImpl>()) o.ignore.push_back(item.key() + ".");
  auto report = load_state_dict(net, sd, o);  // strict: the featurizer must match model.backbone.type
  if (!fits) {
    for (const auto& kv : head) report.missing.push_back(kv.first);
    for (const auto& kv : file_head) report.unexpected.push_back(kv.first);
  }
  return report;
}

Classifier build_classifier(const config::Config& cfg) {
  auto spec = model_spec(cfg);
  auto net = build_classifier(spec);
  load_pretrained(*net, spec);
  return net;
}

}  // namespace uda::models
