// Cost of the input-conditioned convolutions (docs/BENCHMARKS.md "Dynamic
// convolutions"): parameters, multiply-adds per sample and forward+backward
// time of
//   (1) one layer, static vs DynamicConv2d (K kernels) vs CondConv2d (E
//       experts, with its routing), at the same shape;
//   (2) MNIST_CNN classifiers (28x28, 1 channel) with model.conv.type
//       static / dynamic / condconv on the default layers (conv2..conv4).
// Multiply-adds are counted analytically: a convolution N*O*Ho*Wo*(I/g)*kh*kw;
// the per-sample kernel aggregation K*numel(W) (+ K*O for biases); the
// attention / routing FCs; GroupNorm, ReLU and pooling are not counted.
//
//   dynamic_conv_bench [--batch 64] [--reps 20] [--threads 1]
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>

#include "models/builder.h"
#include "models/layers/dynamic_conv.h"

namespace {
using Clock = std::chrono::steady_clock;
namespace nn = torch::nn;

double time_fwd_bwd(const std::function<torch::Tensor()>& f, int reps) {
  for (int i = 0; i < 3; ++i) f().sum().backward();  // warm-up
  auto t0 = Clock::now();
  for (int i = 0; i < reps; ++i) f().sum().backward();
  return std::chrono::duration<double>(Clock::now() - t0).count() / reps;
}

int64_t count_params(nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

// Multiply-adds per sample of a conv on an h x w input.
double conv_macs(const nn::Conv2dOptions& o, int64_t h, int64_t w, int64_t p) {
  const int64_t k0 = (*o.kernel_size())[0], k1 = (*o.kernel_size())[1];
  const int64_t s = (*o.stride())[0];
  const int64_t ho = (h + 2 * p - k0) / s + 1, wo = (w + 2 * p - k1) / s + 1;
  return static_cast<double>(o.out_channels() * ho * wo * (o.in_channels() / o.groups()) * k0 * k1);
}

double dynamic_extra_macs(const nn::Conv2dOptions& o, int64_t experts, double reduction, bool condconv) {
  const int64_t c = o.in_channels();
  const int64_t kernel = o.out_channels() * (c / o.groups()) * (*o.kernel_size())[0] * (*o.kernel_size())[1];
  double attention;
  if (condconv) attention = static_cast<double>(c * experts);  // routing FC
  else {
    const int64_t hidden = c != 3 ? static_cast<int64_t>(c * reduction) + 1 : experts;
    attention = static_cast<double>(c * hidden + hidden * experts);
  }
  return attention + static_cast<double>(experts * (kernel + (o.bias() ? o.out_channels() : 0)));
}

}  // namespace

int main(int argc, char** argv) {
  int64_t batch = 64;
  int reps = 20, threads = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--batch")) batch = std::stoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--reps")) reps = std::stoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--threads")) threads = std::stoi(argv[i + 1]);
  }
  torch::set_num_threads(threads);
  torch::manual_seed(0);
  std::printf("# batch %lld, %d reps, %d thread(s), libtorch %s\n", static_cast<long long>(batch), reps, threads,
              TORCH_VERSION);

  // (1) One layer: MNIST_CNN's conv3 (128 -> 128, 3x3, 14x14).
  const auto opts = nn::Conv2dOptions(128, 128, 3).padding(1);
  const auto x = torch::randn({batch, 128, 14, 14}).requires_grad_(false);
  std::printf("\n## layer 128->128 3x3 on 14x14\n| layer | params | MACs/sample (M) | fwd+bwd (ms) | time / static |\n|---|---:|---:|---:|---:|\n");
  nn::Conv2d plain(opts);
  const double base_macs = conv_macs(opts, 14, 14, 1);
  const double t_static = time_fwd_bwd([&] { return plain->forward(x); }, reps);
  std::printf("| static | %lld | %.2f | %.2f | 1.00 |\n", static_cast<long long>(count_params(*plain)), base_macs / 1e6,
              1e3 * t_static);
  for (int64_t k : {4, 8}) {
    uda::models::DynamicConvOptions d;
    d.experts = k;
    uda::models::DynamicConv2d dyn(opts, d);
    dyn->set_temperature(1.0);
    const double t = time_fwd_bwd([&] { return dyn->forward(x); }, reps);
    std::printf("| dynamic K=%lld | %lld | %.2f | %.2f | %.2f |\n", static_cast<long long>(k),
                static_cast<long long>(count_params(*dyn)),
                (base_macs + dynamic_extra_macs(opts, k, 0.25, false)) / 1e6, 1e3 * t, t / t_static);
    uda::models::CondConv2d cond(opts, k);
    uda::models::CondConvRouting route(128, k);
    const double tc = time_fwd_bwd([&] { return cond->forward(x, route->forward(x)); }, reps);
    std::printf("| condconv E=%lld | %lld | %.2f | %.2f | %.2f |\n", static_cast<long long>(k),
                static_cast<long long>(count_params(*cond) + count_params(*route)),
                (base_macs + dynamic_extra_macs(opts, k, 0.25, true)) / 1e6, 1e3 * tc, tc / t_static);
  }

  // (2) MNIST_CNN classifiers.
  std::printf("\n## MNIST_CNN (28x28x1, 10 classes), conv2..conv4 replaced\n| conv | params | MACs/sample (M) | fwd+bwd (ms) | time / static |\n|---|---:|---:|---:|---:|\n");
  const auto img = torch::randn({batch, 1, 28, 28});
  double t_net_static = 0;
  for (const char* type : {"static", "dynamic", "condconv"}) {
    uda::models::ModelSpec s;
    s.backbone = "mnist_cnn";
    s.head = "linear";
    s.num_classes = 10;
    s.in_channels = 1;
    s.conv_type = type;
    auto net = uda::models::build_classifier(s);
    net->train();
    const std::array<nn::Conv2dOptions, 4> convs{nn::Conv2dOptions(1, 64, 3).padding(1),
                                                 nn::Conv2dOptions(64, 128, 3).stride(2).padding(1),
                                                 nn::Conv2dOptions(128, 128, 3).padding(1),
                                                 nn::Conv2dOptions(128, 128, 3).padding(1)};
    const std::array<int64_t, 4> in_hw{28, 28, 14, 14};
    double macs = 128.0 * 10;  // fc
    for (int i = 0; i < 4; ++i) {
      macs += conv_macs(convs[i], in_hw[i], in_hw[i], 1);
      if (i > 0 && std::string(type) != "static")
        macs += dynamic_extra_macs(convs[i], 4, 0.25, std::string(type) == "condconv");
    }
    const double t = time_fwd_bwd([&] { return net->forward(img); }, reps);
    if (t_net_static == 0) t_net_static = t;
    std::printf("| %s | %lld | %.2f | %.2f | %.2f |\n", type, static_cast<long long>(count_params(*net)), macs / 1e6,
                1e3 * t, t / t_net_static);
  }
  return 0;
}
