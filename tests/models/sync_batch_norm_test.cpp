// models::batch_norm with an installed cross-rank sum on one rank (the sum is
// the identity) must be torch's BatchNorm2d: output, input and affine
// gradients, running statistics. The two-rank equivalence is in
// tests/mpi_worker/trainer_ranks_test.cpp.
#include "models/sync_batch_norm.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

TEST(SyncBatchNorm, OneRankEqualsTorchBatchNorm) {
  torch::manual_seed(3);
  torch::nn::BatchNorm2d ref(6), syn(6);
  {
    torch::NoGradGuard g;
    ref->weight.uniform_(0.5, 1.5), ref->bias.uniform_(-0.5, 0.5);
    syn->weight.copy_(ref->weight), syn->bias.copy_(ref->bias);
  }
  auto x = (torch::randn({3, 6, 5, 4}) * 3 + 2).requires_grad_();
  auto xs = x.detach().clone().requires_grad_();
  auto w = torch::randn({3, 6, 5, 4});

  uda::models::set_batch_norm_sync([](at::Tensor&) {});
  ASSERT_TRUE(uda::models::batch_norm_sync_enabled());
  for (int step = 0; step < 2; ++step) {
    auto y_ref = ref->forward(x);
    auto y_syn = uda::models::batch_norm(*syn, xs);
    EXPECT_TRUE(torch::allclose(y_ref, y_syn, 1e-5, 1e-6));
    (y_ref * w).sum().backward();
    (y_syn * w).sum().backward();
  }
  uda::models::set_batch_norm_sync({});
  EXPECT_FALSE(uda::models::batch_norm_sync_enabled());

  EXPECT_TRUE(torch::allclose(x.grad(), xs.grad(), 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(ref->weight.grad(), syn->weight.grad(), 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(ref->bias.grad(), syn->bias.grad(), 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(ref->running_mean, syn->running_mean, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(ref->running_var, syn->running_var, 1e-5, 1e-6));
  EXPECT_EQ(ref->num_batches_tracked.item<int64_t>(), syn->num_batches_tracked.item<int64_t>());

  // Eval mode never exchanges: a sum that throws is not called.
  uda::models::set_batch_norm_sync([](at::Tensor&) { throw std::runtime_error("exchanged in eval mode"); });
  syn->eval();
  ref->eval();
  EXPECT_TRUE(torch::allclose(ref->forward(x), uda::models::batch_norm(*syn, x)));
  syn->train();
  EXPECT_THROW(uda::models::batch_norm(*syn, x), std::runtime_error);
  uda::models::set_batch_norm_sync({});
}

TEST(SyncBatchNorm, CumulativeAverageWithoutMomentumEqualsTorch) {
  // momentum = None: running statistics are the plain average over batches.
  auto options = torch::nn::BatchNorm2dOptions(4).momentum(c10::nullopt);
  torch::nn::BatchNorm2d ref(options), syn(options);
  uda::models::set_batch_norm_sync([](at::Tensor&) {});
  torch::manual_seed(5);
  for (int step = 0; step < 3; ++step) {
    auto x = torch::randn({2, 4, 3, 3}) * (step + 1) + step;
    ref->forward(x);
    uda::models::batch_norm(*syn, x);
  }
  uda::models::set_batch_norm_sync({});
  EXPECT_TRUE(torch::allclose(ref->running_mean, syn->running_mean, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(ref->running_var, syn->running_var, 1e-5, 1e-6));
  EXPECT_EQ(syn->num_batches_tracked.item<int64_t>(), 3);
}
