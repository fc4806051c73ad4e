// PixelDA's three networks (Bousmalis et al., CVPR 2017), as the official
// TF-slim code builds them (tensorflow/models,
// research/domain_adaptation/pixel_domain_adaptation/, "[pm]" = pixelda_model.py,
// "[pt]" = pixelda_task_towers.py, "[hp]" = hparams.py):
//  - PixelDaGenerator, arch 'resnet' ([pm] resnet_generator, project_latent_vars,
//    resnet_stack, resnet_block): z ~ U(-1, 1)^noise_dims -> fully connected to
//    one plane of the image size (BatchNorm, ReLU) concatenated to the source
//    image as a last channel -> conv 3x3 64 + ReLU -> resnet_blocks x (conv,
//    BN, ReLU, conv, BN, + skip) -> conv 1x1 to the image channels, tanh;
//  - PixelDaDiscriminator ([pm] predict_domain): conv 3x3 64 (stride
//    discriminator_first_stride, no BN) + leaky ReLU, then stride-2 conv + BN
//    + leaky ReLU blocks doubling the filters while the height exceeds
//    projection_shape_size; after each: dropout (keep 0.9) then Gaussian noise
//    (std 0.2); fully connected to one logit;
//  - PixelDaTaskTower ([pt] mnist_classifier): a private conv 5x5 32 + max pool
//    per input kind (source; transferred, which the target shares), then the
//    shared conv 5x5 48, pool, fc 100, fc 100, fc classes (ReLU, no BN).
// TF-slim details kept: convolutions pad as TF 'SAME' (the extra pixel of an
// even total at the bottom/right); slim.batch_norm centres (beta) and does
// not scale (no gamma), epsilon 1e-3 ([pm] batch_norm_params), decay
// batch_norm_decay; a convolution followed by BN has no bias; every weight
// is drawn from N(0, normal_init_std), biases start at 0 ([pm] create_model
// arg_scope). The discriminator's dropout and noise are drawn per sample
// (models/layers/sample_randomness.h): a forward must run inside a
// SampleKeyScope of its batch. Noise is added in eval mode too, as [pm]
// add_noise does (it ignores is_training); dropout only in training mode.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace uda::models::gan {

struct PixelDaOptions {
  int64_t channels = 3;             // image channels, source = target = generated
  int64_t height = 28, width = 28;  // image size, source = target
  int64_t num_classes = 10;
  // [hp] create_hparams defaults.
  int64_t noise_dims = 10;
  int64_t resnet_blocks = 6, resnet_filters = 64, generator_kernel_size = 3;
  bool resnet_residuals = true;
  int64_t num_discriminator_filters = 64, discriminator_kernel_size = 3, discriminator_first_stride = 1;
  int64_t discriminator_conv_block_size = 1, projection_shape_size = 4;
  double discriminator_filter_factor = 2.0;
  double lrelu_leakiness = 0.2, discriminator_noise_stddev = 0.2, discriminator_dropout_keep_prob = 0.9;
  bool discriminator_image_noise = false;
  double batch_norm_decay = 0.9, batch_norm_epsilon = 1e-3, normal_init_std = 0.02;
};

// A convolution padded as TF's 'SAME'.
class SameConv2dImpl : public torch::nn::Module {
 public:
  SameConv2dImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride, bool bias);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d conv{nullptr};

 private:
  int64_t kernel_, stride_;
};
TORCH_MODULE(SameConv2d);

// slim.batch_norm(center=True, scale=False): batch statistics in training
// mode (global ones under runtime.sync_bn, models/sync_batch_norm.h), a
// learned offset beta, no scale. [N, C, H, W] or [N, C].
class SlimBatchNormImpl : public torch::nn::Module {
 public:
  SlimBatchNormImpl(int64_t channels, double decay, double epsilon);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::BatchNorm2d bn{nullptr};  // statistics only (affine = false)
  torch::Tensor beta;
};
TORCH_MODULE(SlimBatchNorm);

class PixelDaGeneratorImpl : public torch::nn::Module {
 public:
  explicit PixelDaGeneratorImpl(const PixelDaOptions& o);
  // source [N, C, H, W] in [-1, 1], z [N, noise_dims] -> [N, C, H, W] in [-1, 1].
  torch::Tensor forward(const torch::Tensor& source, const torch::Tensor& z);

  torch::nn::Linear noise_fc{nullptr};
  SlimBatchNorm noise_bn{nullptr};
  SameConv2d conv_in{nullptr}, conv_out{nullptr};
  torch::nn::ModuleList blocks{nullptr};  // per block: conv1, bn1, conv2, bn2

 private:
  PixelDaOptions o_;
};
TORCH_MODULE(PixelDaGenerator);

class PixelDaDiscriminatorImpl : public torch::nn::Module {
 public:
  explicit PixelDaDiscriminatorImpl(const PixelDaOptions& o);
  // images [N, C, H, W] in [-1, 1] -> logits [N] (1 = real target image).
  torch::Tensor forward(const torch::Tensor& images);
  int64_t num_blocks() const { return static_cast<int64_t>(stages_.size()); }

  SameConv2d conv1{nullptr};
  torch::nn::ModuleList convs{nullptr}, norms{nullptr};  // the BN'd convolutions, in order
  torch::nn::Linear fc_logit_out{nullptr};

 private:
  torch::Tensor add_noise(const torch::Tensor& x, bool dropout) const;
  PixelDaOptions o_;
  std::vector<int64_t> stages_;  // convolutions per stride-2 block
};
TORCH_MODULE(PixelDaDiscriminator);

class PixelDaTaskTowerImpl : public torch::nn::Module {
 public:
  enum class Input { Source, Transferred };  // the target uses Transferred's private layer ([pm] create_model)
  explicit PixelDaTaskTowerImpl(const PixelDaOptions& o);
  // images [N, C, H, W] -> logits [N, num_classes].
  torch::Tensor forward(const torch::Tensor& images, Input input);

  SameConv2d source_conv1{nullptr}, transferred_conv1{nullptr}, conv2{nullptr};
  torch::nn::Linear fc3{nullptr}, fc4{nullptr}, fc5{nullptr};
};
TORCH_MODULE(PixelDaTaskTower);

// N(0, std) weights and zero biases for every convolution and linear layer of
// `module` ([pm] create_model: weights_initializer, slim's zero biases).
void init_pixelda_weights(torch::nn::Module& module, double std);

}  // namespace uda::models::gan
