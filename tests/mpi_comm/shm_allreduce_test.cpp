// Run under `mpirun -np 2` (or more): the shared-memory all-reduce against a
// sum in rank order of every rank's values, the communicator's thread
// (ordering, exceptions, blocking calls between asynchronous ones), and the
// switch that turns shared memory off.
#include "comm/mpi_communicator.h"
#include "comm/mpi_runtime.h"
#include "comm/serial_executor.h"
#include "comm/shm_allreduce.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <random>
#include <stdexcept>
#include <vector>

using uda::comm::MpiCommunicator;
using uda::comm::MpiCommunicatorOptions;
using uda::comm::ReduceOp;
using uda::comm::SharedMemoryAllReduce;

namespace {

int world_rank() { return uda::comm::mpi_rank(MPI_COMM_WORLD); }

template <typename T>
std::vector<T> rank_values(size_t n, unsigned salt) {
  std::mt19937 gen(1000u * static_cast<unsigned>(world_rank()) + salt);
  std::uniform_real_distribution<T> u(-1, 1);
  std::vector<T> v(n);
  for (auto& x : v) x = u(gen);
  return v;
}

// The sum in rank order (what the shared-memory path promises on every
// rank), from all ranks' values gathered over MPI.
template <typename T>
std::vector<T> rank_order_sum(const std::vector<T>& v) {
  const int n = uda::comm::mpi_size(MPI_COMM_WORLD);
  std::vector<T> all(v.size() * static_cast<size_t>(n));
  const int bytes = static_cast<int>(v.size() * sizeof(T));
  MPI_Allgather(v.data(), bytes, MPI_BYTE, all.data(), bytes, MPI_BYTE, MPI_COMM_WORLD);
  std::vector<T> sum(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(v.size()));
  for (int r = 1; r < n; ++r)
    for (size_t i = 0; i < v.size(); ++i) sum[i] += all[static_cast<size_t>(r) * v.size() + i];
  return sum;
}

}  // namespace

TEST(SharedMemoryAllReduce, SumsInRankOrderForEveryLengthAroundTheChunkSize) {
  constexpr size_t kChunkBytes = 4096;  // many chunks per call, both buffers reused
  auto shm = SharedMemoryAllReduce::create(MPI_COMM_WORLD, kChunkBytes);
  ASSERT_NE(shm, nullptr) << "both ranks run on this node: shared memory must be available";
  const size_t per_chunk = kChunkBytes / sizeof(float);
  unsigned salt = 0;
  for (size_t n : {size_t(0), size_t(1), size_t(15), per_chunk - 1, per_chunk, per_chunk + 1, 3 * per_chunk,
                   7 * per_chunk + 5}) {
    auto v = rank_values<float>(n, ++salt);
    auto expected = rank_order_sum(v);
    shm->sum(v.data(), v.size());
    ASSERT_EQ(v, expected) << "float, " << n << " elements";  // bit-exact
    auto d = rank_values<double>(n, ++salt);
    auto expected_d = rank_order_sum(d);
    shm->sum(d.data(), d.size());
    ASSERT_EQ(d, expected_d) << "double, " << n << " elements";
  }
}

TEST(SharedMemoryAllReduce, BackToBackCallsDoNotReadEachOthersChunks) {
  // An odd number of chunks per call flips the buffer parity between calls.
  auto shm = SharedMemoryAllReduce::create(MPI_COMM_WORLD, 256);
  ASSERT_NE(shm, nullptr);
  for (unsigned call = 0; call < 50; ++call) {
    auto v = rank_values<float>(64 * 3 + call % 7, call);
    auto expected = rank_order_sum(v);
    shm->sum(v.data(), v.size());
    ASSERT_EQ(v, expected) << "call " << call;
  }
}

TEST(MpiCommunicator, QueuedExchangesFinishInOrderAndMatchMpi) {
  MpiCommunicatorOptions shm_options;
  shm_options.shm_chunk_bytes = 8192;
  shm_options.shm_min_bytes = 0;
  MpiCommunicator shm(MPI_COMM_WORLD, shm_options);
  ASSERT_TRUE(shm.uses_shared_memory());
  // Two ranks: sums of two addends do not depend on the order (Open MPI's vs rank order).
  ASSERT_EQ(shm.size(), 2);
  MpiCommunicatorOptions plain_options;
  plain_options.shared_memory = false;
  MpiCommunicator plain(MPI_COMM_WORLD, plain_options);
  ASSERT_FALSE(plain.uses_shared_memory());

  torch::manual_seed(7 + shm.rank());
  std::vector<torch::Tensor> a, b;
  for (int64_t n : {3, 5000, 100000, 1, 40000}) {
    a.push_back(torch::randn({n}));
    b.push_back(a.back().clone());
  }
  a.push_back(torch::randn({777}).to(torch::kBFloat16));
  b.push_back(a.back().clone());
  a.push_back(torch::randn({9000}, torch::kDouble));
  b.push_back(a.back().clone());
  a.push_back(torch::arange(10, torch::kLong) * (shm.rank() + 1));  // integers take MPI's path
  b.push_back(a.back().clone());

  std::vector<std::unique_ptr<uda::comm::Work>> works;
  for (auto& t : a) works.push_back(shm.all_reduce_async(t, ReduceOp::Average));
  // A blocking collective between queued ones waits for them, and they keep their order.
  auto flag = torch::full({1}, static_cast<float>(shm.rank() + 1));
  shm.all_reduce(flag, ReduceOp::Sum);
  EXPECT_EQ(flag.item<float>(), 3.f);
  for (auto& w : works) w->wait();
  for (auto& t : b) plain.all_reduce(t, ReduceOp::Average);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << "tensor " << i;
  EXPECT_TRUE(torch::equal(a.back(), (torch::arange(10, torch::kLong) * 3).div(2, "floor")));
}

TEST(MpiCommunicator, EnvironmentSwitchTurnsSharedMemoryOff) {
  ::setenv("UDA_MPI_SHM", "0", 1);
  MpiCommunicator off(MPI_COMM_WORLD);
  ::unsetenv("UDA_MPI_SHM");
  MpiCommunicator on(MPI_COMM_WORLD);
  EXPECT_FALSE(off.uses_shared_memory());
  EXPECT_TRUE(on.uses_shared_memory());
}

TEST(SerialExecutor, RunsJobsInOrderAndCarriesTheirExceptions) {
  uda::comm::SerialExecutor ex;
  std::vector<int> seen;
  std::vector<std::shared_future<void>> done;
  for (int i = 0; i < 20; ++i) done.push_back(ex.submit([&seen, i] { seen.push_back(i); }));
  auto failed = ex.submit([] { throw std::runtime_error("exchange failed"); });
  // A job run in the caller comes after everything queued before it.
  ex.run_in_caller([&seen] { seen.push_back(100); });
  ASSERT_EQ(seen.size(), 21u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(seen[static_cast<size_t>(i)], i);
  EXPECT_EQ(seen.back(), 100);
  EXPECT_THROW(failed.get(), std::runtime_error);
  auto after = ex.submit([&seen] { seen.push_back(101); });
  after.get();
  EXPECT_EQ(seen.back(), 101);
}

TEST(SharedMemoryAllReduce, SharedBuffersAreSummedInPlaceOverAnyRange) {
  auto shm = SharedMemoryAllReduce::create(MPI_COMM_WORLD, 4096);
  ASSERT_NE(shm, nullptr);
  constexpr size_t kFloats = 10007;  // not a whole number of cache lines
  auto* buffer = static_cast<float*>(shm->allocate_shared(kFloats * sizeof(float)));
  ASSERT_NE(buffer, nullptr);
  for (size_t i = 0; i < kFloats; ++i) EXPECT_EQ(buffer[i], 0.f) << "fresh buffers are zeroed";
  auto* doubles = static_cast<double*>(shm->allocate_shared(999 * sizeof(double)));
  ASSERT_NE(doubles, nullptr);
  EXPECT_TRUE(shm->is_shared(buffer + 5, 100 * sizeof(float)));
  EXPECT_FALSE(shm->is_shared(buffer + kFloats - 1, 1024));  // runs past the end
  std::vector<float> outside(16);
  EXPECT_FALSE(shm->is_shared(outside.data(), outside.size() * sizeof(float)));

  unsigned salt = 100;
  // Whole buffer, sub-ranges at odd offsets, lengths below one line per rank.
  for (auto [offset, count] : {std::pair<size_t, size_t>{0, kFloats}, {3, 5000}, {kFloats - 7, 7}, {17, 1}, {0, 0}}) {
    auto v = rank_values<float>(count, ++salt);
    std::copy(v.begin(), v.end(), buffer + offset);
    const float before = offset > 0 ? buffer[offset - 1] : 0.f;
    auto expected = rank_order_sum(v);
    shm->sum_shared(buffer + offset, count);
    ASSERT_TRUE(std::equal(expected.begin(), expected.end(), buffer + offset)) << offset << "+" << count;
    if (offset > 0) EXPECT_EQ(buffer[offset - 1], before) << "elements outside the range are left alone";
  }
  auto d = rank_values<double>(999, ++salt);
  std::copy(d.begin(), d.end(), doubles);
  auto expected_d = rank_order_sum(d);
  shm->sum_shared(doubles, d.size());
  EXPECT_TRUE(std::equal(expected_d.begin(), expected_d.end(), doubles));
  shm->free_shared(doubles);
  EXPECT_FALSE(shm->is_shared(doubles, sizeof(double)));
  shm->free_shared(buffer);
}

TEST(MpiCommunicator, ExchangeBuffersLiveInSharedMemoryAndReduceLikePlainTensors) {
  MpiCommunicator comm(MPI_COMM_WORLD);
  ASSERT_TRUE(comm.uses_shared_memory());
  auto shared = uda::comm::make_exchange_buffer(comm, 70001, torch::kFloat);
  auto plain = torch::zeros({70001});
  EXPECT_TRUE(torch::equal(shared, plain));
  torch::manual_seed(11 + comm.rank());
  for (int step = 0; step < 3; ++step) {
    auto values = torch::randn({70001});
    shared.copy_(values);
    plain.copy_(values);
    auto work = comm.all_reduce_async(shared, ReduceOp::Average);
    comm.all_reduce(plain, ReduceOp::Average);
    work->wait();
    ASSERT_TRUE(torch::equal(shared, plain)) << "step " << step;
  }
  // Integer buffers, or no shared memory: plain tensors, still released without error.
  auto ints = uda::comm::make_exchange_buffer(comm, 10, torch::kLong);
  EXPECT_TRUE(torch::equal(ints, torch::zeros({10}, torch::kLong)));
  uda::comm::release_exchange_buffer(comm, ints);
  uda::comm::release_exchange_buffer(comm, shared);
}
