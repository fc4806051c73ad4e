// Forward and forward+backward time of a segmentor (default MiT-B5 + DAFormer
// head) on random input, for bench/model_bench.sh which runs the Python peer
// (bench/model_python_peer.py) with the same settings and prints the ratio.
//
//   model_bench --backbone mit_b5 --size 512 --batch 1 --threads 1 --iters 3 --warmup 1 [--device cpu|cuda]
//               [--bf16] [--channels-last]
// Prints one JSON object per mode on stdout.
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "models/builder.h"
#include "models/performance.h"

namespace {
double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

int main(int argc, char** argv) {
  std::string backbone = "mit_b5", device = "cpu";
  int size = 512, batch = 1, threads = 1, iters = 3, warmup = 1;
  bool bf16 = false, cl = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return std::string(i + 1 < argc ? argv[++i] : ""); };
    if (a == "--backbone") backbone = next();
    else if (a == "--size") size = std::stoi(next());
    else if (a == "--batch") batch = std::stoi(next());
    else if (a == "--threads") threads = std::stoi(next());
    else if (a == "--iters") iters = std::stoi(next());
    else if (a == "--warmup") warmup = std::stoi(next());
    else if (a == "--device") device = next();
    else if (a == "--bf16") bf16 = true;
    else if (a == "--channels-last") cl = true;
    else {
      std::fprintf(stderr, "model_bench: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  torch::set_num_threads(threads);
  torch::manual_seed(0);
  uda::models::ModelSpec spec;
  spec.backbone = backbone;
  auto net = uda::models::build_segmentor(spec);
  const torch::Device dev(device == "cuda" ? torch::kCUDA : torch::kCPU);
  net->to(dev);
  if (cl) uda::models::to_channels_last(*net);
  auto x = torch::randn({batch, 3, size, size}, torch::TensorOptions().device(dev));
  if (cl) x = uda::models::channels_last(x);
  auto sync = [&] {
    if (dev.is_cuda()) torch::cuda::synchronize();
  };
  for (const std::string mode : {"forward", "forward_backward"}) {
    const bool bwd = mode == "forward_backward";
    if (bwd) net->train(); else net->eval();
    double total = 0;
    for (int it = 0; it < warmup + iters; ++it) {
      sync();
      const double t0 = now_s();
      {
        uda::models::AutocastScope amp(dev.type(), torch::kBFloat16, bf16);
        if (bwd) {
          auto logits = net->forward(x).logits;
          logits.to(torch::kFloat).mean().backward();
        } else {
          torch::NoGradGuard g;
          net->forward(x);
        }
      }
      sync();
      if (it >= warmup) total += now_s() - t0;
    }
    if (bwd) net->zero_grad();
    std::printf("{\"impl\": \"uda\", \"mode\": \"%s\", \"backbone\": \"%s\", \"size\": %d, \"batch\": %d, "
                "\"threads\": %d, \"device\": \"%s\", \"bf16\": %s, \"channels_last\": %s, \"seconds\": %.6f}\n",
                mode.c_str(), backbone.c_str(), size, batch, threads, device.c_str(), bf16 ? "true" : "false",
                cl ? "true" : "false", total / iters);
    std::fflush(stdout);
  }
  return 0;
}
