// TorchCpuGenerator against torch 1.13's own draws: torch.manual_seed, then
// torch.randperm and torch.rand, bit for bit.
#include "data/convert/torch_rng.h"
#include "tests/data/python_reference.h"
#include "tests/support/test_support.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>

using uda::data::TorchCpuGenerator;
using uda::data_test::ReferenceReader;
using uda::data_test::run_reference;

namespace {

// argv: out_file then (seed, n, m) triples: randperm(n) then rand(m) twice.
const char* kReference = R"(
import struct, sys, torch
assert torch.__version__.startswith("1.13"), "the reference needs torch 1.13, found " + torch.__version__
out = open(sys.argv[1], "wb")
args = [int(a) for a in sys.argv[2:]]
for seed, n, m in zip(args[0::3], args[1::3], args[2::3]):
    torch.manual_seed(seed)
    out.write(torch.randperm(n).numpy().astype("<i8").tobytes())
    for _ in range(2):
        out.write(torch.rand(m).numpy().astype("<f4").tobytes())
)";

}  // namespace

TEST(TorchRng, RandpermAndRandEqualTorch113BitForBit) {
  uda::test::TempDir tmp;
  // DomainBed seeds: 0, misc.seed_hash(0, 0) = 894182419 and a sweep job's
  // seed_hash('RotatedMNIST', 'ERM', [0], 0, 0) = 8951917 (lib/misc.py:132-137);
  // 2^32 + 7 shows the truncation to 32 bits; n = 0, 1, 2 are the edges.
  const std::vector<std::array<int64_t, 3>> cases{{0, 70000, 23334},       {5, 70000, 11667},  {894182419, 70000, 100},
                                                  {8951917, 70000, 23334}, {4294967303, 1000, 10}, {3, 0, 5},
                                                  {3, 1, 0},               {3, 2, 1}};
  std::vector<std::string> args{tmp / "ref.bin"};
  for (const auto& c : cases)
    for (int64_t v : c) args.push_back(std::to_string(v));
  run_reference(kReference, args);
  ReferenceReader ref(tmp / "ref.bin");
  for (const auto& [seed, n, m] : cases) {
    TorchCpuGenerator gen(static_cast<uint64_t>(seed));
    const auto perm = gen.randperm(n);
    size_t perm_diff = 0;
    for (int64_t i = 0; i < n; ++i) perm_diff += ref.get<int64_t>() != perm[static_cast<size_t>(i)];
    EXPECT_EQ(perm_diff, 0u) << "randperm(" << n << ") after manual_seed(" << seed << ")";
    for (int draw = 0; draw < 2; ++draw) {
      const auto u = gen.rand(static_cast<size_t>(m));
      size_t rand_diff = 0;
      for (int64_t i = 0; i < m; ++i) {
        uint32_t want = ref.get<uint32_t>(), got;
        std::memcpy(&got, &u[static_cast<size_t>(i)], 4);
        rand_diff += want != got;
      }
      EXPECT_EQ(rand_diff, 0u) << "rand(" << m << ") #" << draw << " after randperm, seed " << seed;
    }
  }
  EXPECT_TRUE(ref.done());
}
