// A segmentation network as the trainer, algorithms and `uda infer/eval` see
// it: images in, per-class logits out.
//
//  - forward(images): raw head outputs (logits at the head's resolution, the
//    auxiliary logits of multi-level heads, the backbone features) for losses;
//  - encode_decode(images): logits resized bilinearly to the input size
//    (mmseg EncoderDecoder.encode_decode; align_corners from the options);
//  - predict(images): test-time logits at input size, "whole" (encode_decode)
//    or "slide" (mmseg EncoderDecoder.slide_inference: overlapping crops,
//    summed and divided by the per-pixel crop count).
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "models/backbone.h"

namespace uda::models {

enum class TestMode { Whole, Slide };

struct SegmentorOptions {
  bool align_corners = false;          // of the final resize to the input
  TestMode test_mode = TestMode::Whole;
  std::array<int64_t, 2> crop{512, 512};    // slide: crop (h, w)
  std::array<int64_t, 2> stride{341, 341};  // slide: stride (h, w)
};

struct SegmentorOutput {
  torch::Tensor logits;                 // (N, C, h, w) at the head's resolution
  torch::Tensor aux;                    // auxiliary logits or undefined
  std::vector<torch::Tensor> features;  // backbone stage maps
};

class SegmentorImpl : public torch::nn::Module {
 public:
  explicit SegmentorImpl(const SegmentorOptions& opt) : opt_(opt) {}
  virtual SegmentorOutput forward(const torch::Tensor& images) = 0;
  virtual std::vector<torch::Tensor> extract_features(const torch::Tensor& images) = 0;
  // Parameter groups (DAFormer trains the head with lr x10).
  virtual std::vector<torch::Tensor> backbone_parameters() = 0;
  virtual std::vector<torch::Tensor> head_parameters() = 0;

  torch::Tensor encode_decode(const torch::Tensor& images);
  torch::Tensor predict(const torch::Tensor& images);
  torch::Tensor slide_inference(const torch::Tensor& images);
  int64_t num_classes() const { return num_classes_; }
  const SegmentorOptions& options() const { return opt_; }
  void set_options(const SegmentorOptions& opt) { opt_ = opt; }

 protected:
  SegmentorOptions opt_;
  int64_t num_classes_ = 0;
};
using Segmentor = std::shared_ptr<SegmentorImpl>;

// mmseg EncoderDecoder: children `backbone` and `decode_head`, so its keys are
// those of an mmseg checkpoint without the segmentor prefix ("model.",
// "ema_model.", "imnet_model." in a DAFormer/DACS checkpoint).
class EncoderDecoderImpl : public SegmentorImpl {
 public:
  EncoderDecoderImpl(std::shared_ptr<BackboneImpl> backbone, std::shared_ptr<DecodeHeadImpl> head,
                     const SegmentorOptions& opt);
  SegmentorOutput forward(const torch::Tensor& images) override;
  std::vector<torch::Tensor> extract_features(const torch::Tensor& images) override;
  std::vector<torch::Tensor> backbone_parameters() override;
  std::vector<torch::Tensor> head_parameters() override;
  BackboneImpl& backbone() { return *backbone_; }
  DecodeHeadImpl& decode_head() { return *head_; }

 private:
  std::shared_ptr<BackboneImpl> backbone_;
  std::shared_ptr<DecodeHeadImpl> head_;
};

}  // namespace uda::models
