// Data-parallel benchmarks, run under mpirun (bench/dp_bench.sh):
//   allreduce [CHUNK_KIB...]: bus bandwidth 2(n-1)/n * bytes / time of
//              MpiCommunicator's all-reduce for growing sizes, through Open
//              MPI, through shared memory (each chunk size) and in place on
//              shared exchange buffers, next to memcpy bandwidth;
//   step:      training step time (forward, backward, gradient exchange,
//              AdamW step) of MiT + DAFormer head, with and without the
//              exchange, so that its overhead is a ratio.
// Prints one JSON object per measurement (rank 0).
#include "comm/communicator.h"
#include "comm/grad_reducer.h"
#include "comm/mpi_communicator.h"
#include "comm/mpi_runtime.h"
#include "comm/replicas.h"
#include "core/config.h"
#include "data/pipeline/malloc_tuning.h"
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

// One size sweep of `comm`'s all-reduce, labelled `impl`; `in_place`: on
// exchange buffers (node-shared memory, as the gradient reducer's buckets).
void allreduce(uda::comm::Communicator& comm, const std::string& impl, bool in_place = false) {
  for (size_t bytes = 1 << 12; bytes <= (size_t(64) << 20); bytes *= 4) {
    const auto numel = static_cast<int64_t>(bytes / 4);
    auto t = in_place ? uda::comm::make_exchange_buffer(comm, numel, torch::kFloat) : torch::zeros({numel});
    t.fill_(1);
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
      std::cout << nlohmann::json{{"bench", "allreduce"}, {"impl", impl},      {"ranks", n},
                                  {"bytes", bytes},      {"seconds", s},      {"bus_gbps", bus},
                                  {"memcpy_gbps", mc},   {"bus_over_memcpy", bus / mc}}
                       .dump()
                << std::endl;
    if (in_place) uda::comm::release_exchange_buffer(comm, t);
  }
}

// Open MPI's own all-reduce, then the shared-memory path with each chunk size (KiB).
void allreduce_sweeps(const std::vector<size_t>& chunk_kib) {
  uda::comm::MpiCommunicatorOptions mpi_only;
  mpi_only.shared_memory = false;
  {
    uda::comm::MpiCommunicator comm(MPI_COMM_WORLD, mpi_only);
    allreduce(comm, "mpi");
  }
  for (size_t kib : chunk_kib) {
    uda::comm::MpiCommunicatorOptions shm;
    shm.shm_chunk_bytes = kib << 10;
    shm.shm_min_bytes = 0;
    uda::comm::MpiCommunicator comm(MPI_COMM_WORLD, shm);
    if (!comm.uses_shared_memory()) throw std::runtime_error("shared memory all-reduce unavailable");
    allreduce(comm, "shm-" + std::to_string(kib) + "KiB");
  }
  uda::comm::MpiCommunicator comm(MPI_COMM_WORLD);
  allreduce(comm, "shm-in-place", true);
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
  // Time in finalize() per exchanging step. The rank that finishes backward
  // last waits only for the exchange's tail; the others also wait for it
  // (straggling, which no exchange can avoid): the minimum over ranks is the
  // exchange's own cost.
  std::vector<double> finalize_seconds;
  auto one_step = [&](bool exchange) {
    comm.barrier();
    auto t0 = Clock::now();
    opt.zero_grad();
    auto out = net->forward(x);
    auto loss = torch::nn::functional::cross_entropy(out.logits, y);
    if (exchange) reducer.arm();
    loss.backward();
    auto t1 = Clock::now();
    if (exchange) reducer.finalize();
    if (exchange) finalize_seconds.push_back(since(t1));
    opt.step();
    return since(t0);
  };
  one_step(true);
  one_step(false);
  finalize_seconds.clear();
  double total[2] = {0, 0};
  for (int it = 0; it < iters; ++it)
    for (int e = 0; e < 2; ++e) total[e] += one_step(e == 1);
  for (int e = 0; e < 2; ++e) {
    auto t = torch::tensor({total[e] / iters}, torch::kDouble);
    comm.all_reduce(t, uda::comm::ReduceOp::Average);
    auto per_rank = comm.all_gather(torch::tensor(finalize_seconds, torch::kDouble));  // [ranks, iters]
    const double tail = std::get<0>(per_rank.min(0)).mean().item<double>();
    if (comm.rank() == 0)
      std::cout << nlohmann::json{{"bench", "step"}, {"impl", "uda"},   {"ranks", comm.size()},
                                  {"backbone", backbone}, {"size", size}, {"batch_per_rank", batch},
                                  {"exchange", e == 1}, {"seconds", t.item<double>()},
                                  {"exchange_tail_seconds", e == 1 ? tail : 0.0}}
                       .dump()
                << std::endl;
  }
}

}  // namespace

int main(int argc, char** argv) {
  uda::data::pipeline::keep_large_buffers_in_heap();  // as the worker does
  uda::comm::ensure_mpi();
  torch::set_num_threads(1);
  std::string mode = argc > 1 ? argv[1] : "allreduce";
  if (mode == "allreduce") {
    std::vector<size_t> chunks;
    for (int i = 2; i < argc; ++i) chunks.push_back(std::stoul(argv[i]));
    if (chunks.empty()) chunks.push_back(uda::comm::MpiCommunicatorOptions{}.shm_chunk_bytes >> 10);
    allreduce_sweeps(chunks);
    return 0;
  }
  auto comm = uda::comm::make_communicator(uda::comm::Backend::Mpi);
  step(*comm, argc > 2 ? argv[2] : "mit_b0", argc > 3 ? std::stoi(argv[3]) : 128,
            argc > 4 ? std::stoi(argv[4]) : 2, argc > 5 ? std::stoi(argv[5]) : 5);
  return 0;
}
