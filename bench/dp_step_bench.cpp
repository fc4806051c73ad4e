// Data-parallel benchmarks, run under mpirun (bench/dp_bench.sh):
//   allreduce: bus bandwidth 2(n-1)/n * bytes / time of MpiCommunicator
//              all-reduce for growing sizes, next to memcpy bandwidth;
//   step:      training step time (forward, backward, gradient exchange,
//              AdamW step) of MiT + DAFormer head, with and without the
//              exchange, so that its overhead is a ratio.
// Prints one JSON object per measurement (rank 0).
#include "comm/communicator.h"
#include "comm/grad_reducer.h"
#include "comm/mpi_runtime.h"
#include "comm/replicas.h"
#include "core/config.h"
#include "models/builder.h"

#include <torch/torch.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double memcpy_gbps(size_t bytes) {
  std::vector<char> a(bytes, 1), b(bytes, 0);
  std::memcpy(b.data(), a.data(), bytes);
  const int reps = std::max<int>(3, static_cast<int>((256u << 20) / bytes));
  auto t = Clock::now();
  for (int i = 0; i < reps; ++i) std::memcpy(b.data(), a.data(), bytes);
  return bytes * double(reps) / since(t) / 1e9;
}

void allreduce(uda::comm::Communicator& comm) {
  for (size_t bytes = 1 << 12; bytes <= (size_t(64) << 20); bytes *= 4) {
    auto t = torch::ones({static_cast<int64_t>(bytes / 4)});
    comm.all_reduce(t, uda::comm::ReduceOp::Sum);
    const int reps = std::max<int>(3, static_cast<int>((128u << 20) / bytes));
    comm.barrier();
    auto t0 = Clock::now();
    for (int i = 0; i < reps; ++i) comm.all_reduce(t, uda::comm::ReduceOp::Sum);
    const double s = since(t0) / reps;
    const int n = comm.size();
    const double bus = 2.0 * (n - 1) / n * bytes / s / 1e9;
    const double mc = memcpy_gbps(bytes);
    if (comm.rank() == 0)
      std::cout << nlohmann::json{{"bench", "allreduce"}, {"ranks", n},        {"bytes", bytes},
                                  {"seconds", s},        {"bus_gbps", bus},    {"memcpy_gbps", mc},
                                  {"bus_over_memcpy", bus / mc}}
                       .dump()
                << std::endl;
  }
}

void step(uda::comm::Communicator& comm, const std::string& backbone, int size, int batch, int iters) {
  auto cfg = uda::config::from_json({{"model",
                                      {{"backbone", {{"type", backbone}, {"drop_path_rate", 0.0}}},
                                       {"head", {{"type", "daformer"}}}}}},
                                    "bench");
  torch::manual_seed(0);
  auto net = uda::models::build_segmentor(cfg);
  net->train();
  std::vector<at::Tensor> params;
  uda::comm::NamedTensors named;
  for (auto& p : net->named_parameters()) params.push_back(p.value()), named.emplace_back(p.key(), p.value());
  uda::comm::broadcast_from_rank0(comm, named);
  torch::optim::AdamW opt(params, torch::optim::AdamWOptions(6e-5));
  uda::comm::GradReducer reducer(comm, params);
  torch::manual_seed(1 + comm.rank());
  auto x = torch::randn({batch, 3, size, size});
  auto y = torch::randint(19, {batch, size / 4, size / 4}, torch::kLong);
  // Interleaved rounds (without, with exchange) so that warm-up and drift
  // affect both alike; two warm-up steps first.
  auto one_step = [&](bool exchange) {
    comm.barrier();
    auto t0 = Clock::now();
    opt.zero_grad();
    auto out = net->forward(x);
    auto loss = torch::nn::functional::cross_entropy(out.logits, y);
    if (exchange) reducer.arm();
    loss.backward();
    if (exchange) reducer.finalize();
    opt.step();
    return since(t0);
  };
  one_step(true);
  one_step(false);
  double total[2] = {0, 0};
  for (int it = 0; it < iters; ++it)
    for (int e = 0; e < 2; ++e) total[e] += one_step(e == 1);
  for (int e = 0; e < 2; ++e) {
    auto t = torch::tensor({total[e] / iters}, torch::kDouble);
    comm.all_reduce(t, uda::comm::ReduceOp::Average);
    if (comm.rank() == 0)
      std::cout << nlohmann::json{{"bench", "step"}, {"impl", "uda"},   {"ranks", comm.size()},
                                  {"backbone", backbone}, {"size", size}, {"batch_per_rank", batch},
                                  {"exchange", e == 1}, {"seconds", t.item<double>()}}
                       .dump()
                << std::endl;
  }
}

}  // namespace

int main(int argc, char** argv) {
  uda::comm::ensure_mpi();
  torch::set_num_threads(1);
  std::string mode = argc > 1 ? argv[1] : "allreduce";
  auto comm = uda::comm::make_communicator(uda::comm::Backend::Mpi);
  if (mode == "allreduce") allreduce(*comm);
  else step(*comm, argc > 2 ? argv[2] : "mit_b0", argc > 3 ? std::stoi(argv[3]) : 128,
            argc > 4 ? std::stoi(argv[4]) : 2, argc > 5 ? std::stoi(argv[5]) : 5);
  return 0;
}
