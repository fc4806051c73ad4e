// Cost of the single-source DG additions (docs/BENCHMARKS.md "Single-source
// DG"): StableNet's inner weighting loop per step (20 SGD steps on the
// global batch's RFF covariance, algos/augment/stablenet_weighting.h) for
// batch n and feature width d; ADA's max phase per sample (T_adv ascent
// steps through ada_cnn, 28x28x1) next to one training step of the same
// network. CPU, the threads given by OMP_NUM_THREADS / --threads.
//   augment_bench [threads]
#include "algos/augment/stablenet_weighting.h"
#include "models/classifiers/ada_cnn.h"

#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace {
using Clock = std::chrono::steady_clock;
double seconds(Clock::time_point a) { return std::chrono::duration<double>(Clock::now() - a).count(); }
}  // namespace

int main(int argc, char** argv) {
  torch::set_num_threads(argc > 1 ? std::atoi(argv[1]) : 1);
  torch::manual_seed(0);
  namespace sn = uda::algos::stablenet;
  std::printf("stablenet inner loop (20 steps, num_f 1), memory = batch\n");
  std::printf("%6s %6s %12s\n", "n", "d", "ms/step");
  for (int64_t n : {32, 128})
    for (int64_t d : {128, 512, 1024}) {
      auto f = torch::randn({n, d}).relu();
      auto mf = torch::randn({n, d}).relu();
      auto mw = torch::ones({n, 1});
      auto draw = [&](int64_t) { return sn::RffDraw{torch::randn({1, 1}), 2 * M_PI * torch::rand({d, 1})}; };
      sn::learn_weights(f, mf, mw, sn::Options{}, draw, -1);  // warm-up
      const int reps = d >= 1024 ? 2 : 5;
      auto t = Clock::now();
      for (int r = 0; r < reps; ++r) sn::learn_weights(f, mf, mw, sn::Options{}, draw, -1);
      std::printf("%6ld %6ld %12.1f\n", static_cast<long>(n), static_cast<long>(d), 1e3 * seconds(t) / reps);
    }
  uda::models::ClassifierConfig c;
  c.in_channels = 1;
  auto net = std::make_shared<uda::models::AdaCnnImpl>(c, 28);
  net->eval();
  const int64_t b = 32;
  auto x0 = torch::rand({b, 1, 28, 28});
  auto y = torch::randint(10, {b});
  auto phi0 = net->features(x0).detach();
  auto ascent = [&](int steps) {
    auto x = x0.clone();
    for (int s = 0; s < steps; ++s) {
      auto xr = x.detach().requires_grad_(true);
      auto f = net->features(xr);
      auto obj = torch::nn::functional::cross_entropy(net->classify(f), y) - (f - phi0).pow(2).mean();
      x = xr.detach() + torch::autograd::grad({obj}, {xr})[0];
    }
  };
  ascent(1);
  auto t = Clock::now();
  ascent(15);
  const double per_step = seconds(t) / 15;
  t = Clock::now();
  for (int r = 0; r < 5; ++r) {
    net->zero_grad();
    torch::nn::functional::cross_entropy(net->forward(x0), y).backward();
  }
  const double train = seconds(t) / 5;
  std::printf("ada_cnn batch %ld: ascent step %.1f ms (%.2f ms/sample), training fwd+bwd %.1f ms\n",
              static_cast<long>(b), 1e3 * per_step, 1e3 * per_step / b, 1e3 * train);
  std::printf("max phase of N samples x T_adv steps ~ N * T_adv * %.2f ms (ADA 9.3k x 15: %.0f s)\n",
              1e3 * per_step / b, 9300.0 * 15 * per_step / b);
  return 0;
}
