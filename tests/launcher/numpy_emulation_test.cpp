// seed_hash, numpy's legacy RandomState and numpy's float64 reductions
// against the fact sheet's verified values and against Debian's python3
// with numpy computing the same thing (the test fails when that python is
// missing: the comparison is the point).
#include "core/numpy_random.h"
#include "launcher/numpy_reduce.h"
#include "tests/support/test_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <random>

using nlohmann::json;
using namespace uda::cli;
using uda::numpy_random::PyArg;

namespace {

// Runs `program` with /usr/bin/python3 (numpy imported as np, hashlib,
// json), `input` as JSON on stdin; returns its stdout as JSON.
json python(const std::string& program, const json& input) {
  uda::test::TempDir t;
  uda::test::write_text(t / "in.json", input.dump());
  uda::test::write_text(t / "p.py", "import hashlib, json, sys\nimport numpy as np\n"
                                    "x = json.load(open(sys.argv[1]))\n" + program + "\n");
  const auto r = uda::test::run_command({"/usr/bin/python3", t / "p.py", t / "in.json"});
  if (r.exit_code != 0)
    throw std::runtime_error(
        "/usr/bin/python3 with numpy is needed for this comparison (apt-get install python3-numpy): " + r.err);
  return json::parse(r.out);
}

}  // namespace

// The values the fact sheet verified with DomainBed (lib/misc.py:132-137).
TEST(SeedHash, FactSheetValues) {
  EXPECT_EQ(uda::numpy_random::py_tuple_repr({int64_t{1}, int64_t{0}}), "(1, 0)");
  EXPECT_EQ(uda::numpy_random::py_tuple_repr({std::string("RotatedMNIST"), std::string("ERM"), std::vector<int64_t>{0}, int64_t{0},
                           int64_t{0}}),
            "('RotatedMNIST', 'ERM', [0], 0, 0)");
  EXPECT_EQ(uda::numpy_random::py_tuple_repr({int64_t{3}}), "(3,)");
  const uint32_t e0[] = {894182419, 1514274641, 1325548499, 1796103049, 1773288162, 1833038383};
  for (int64_t e = 0; e < 6; ++e) EXPECT_EQ(uda::numpy_random::seed_hash({int64_t{0}, e}), e0[e]) << e;
  EXPECT_EQ(uda::numpy_random::seed_hash({int64_t{1}, int64_t{0}}), 785910682u);
  EXPECT_EQ(uda::numpy_random::seed_hash({int64_t{2}, int64_t{0}}), 472130416u);
  EXPECT_EQ(uda::numpy_random::seed_hash({int64_t{3}, int64_t{0}}), 228473481u);
  EXPECT_EQ(uda::numpy_random::seed_hash({int64_t{1}, int64_t{1}}), 1442673865u);
  EXPECT_EQ(uda::numpy_random::seed_hash({int64_t{1}, int64_t{2}}), 1981683110u);
  EXPECT_EQ(uda::numpy_random::seed_hash({std::string("RotatedMNIST"), std::string("ERM"), std::vector<int64_t>{0}, int64_t{0},
                       int64_t{0}}),
            8951917u);
  EXPECT_THROW(uda::numpy_random::seed_hash({std::string("it's")}), std::invalid_argument);
}

TEST(SeedHash, MatchesPython) {
  json cases = json::array();
  std::vector<std::vector<PyArg>> args;
  std::mt19937_64 g(3);
  for (int i = 0; i < 200; ++i) {
    const int64_t a = static_cast<int64_t>(g() % 3000000000ull), b = static_cast<int64_t>(g() % 100);
    std::vector<int64_t> envs{b % 6, b % 6 + 1};
    args.push_back({std::string("Data_") + std::to_string(i), a, envs, b, std::vector<int64_t>{}});
    cases.push_back({"Data_" + std::to_string(i), a, envs, b, json::array()});
  }
  const json want = python("print(json.dumps([int(hashlib.md5(str(tuple(c)).encode()).hexdigest(), 16) % 2**31 "
                           "for c in x]))",
                           cases);
  for (size_t i = 0; i < args.size(); ++i) EXPECT_EQ(uda::numpy_random::seed_hash(args[i]), want[i].get<uint32_t>()) << cases[i].dump();
}

// uniform, random_sample and choice, interleaved, from many seeds.
TEST(NumpyRandomState, MatchesPython) {
  json seeds = json::array();
  for (uint32_t s : {0u, 1u, 12345u, 894182419u, 2147483647u, 4294967295u}) seeds.push_back(s);
  const json want = python(R"(out = []
for s in x:
    r = np.random.RandomState(s)
    out.append([r.uniform(-4.5, -2.5), r.random_sample(), int(r.choice([0., 0.1, 0.5]) * 10), int(r.choice([1, 2])),
                int(r.choice(7)), r.uniform(3, 9), int(r.choice(1)), r.uniform(0, 1)])
print(json.dumps(out)))",
                           seeds);
  for (size_t i = 0; i < seeds.size(); ++i) {
    uda::numpy_random::RandomState r(seeds[i].get<uint32_t>());
    const json& w = want[i];
    EXPECT_EQ(r.uniform(-4.5, -2.5), w[0].get<double>());
    EXPECT_EQ(r.random_sample(), w[1].get<double>());
    const double tenths[] = {0, 1, 5};
    EXPECT_EQ(tenths[r.choice(3)], w[2].get<double>());
    EXPECT_EQ(static_cast<int>(r.choice(2)) + 1, w[3].get<int>());
    EXPECT_EQ(static_cast<int>(r.choice(7)), w[4].get<int>());
    EXPECT_EQ(r.uniform(3, 9), w[5].get<double>());
    EXPECT_EQ(r.choice(1), 0u);  // draws nothing
    EXPECT_EQ(r.uniform(0, 1), w[7].get<double>()) << seeds[i];
  }
}

// np.sum / np.mean / np.std of float64 arrays of every length up to 300
// (sequential, 8-way unrolled and halved summation), bit for bit.
TEST(NumpyReduce, MatchesPythonBitForBit) {
  std::mt19937_64 g(11);
  json arrays = json::array();
  std::vector<std::vector<double>> xs;
  for (size_t n = 1; n <= 300; ++n) {
    std::vector<double> x(n);
    for (auto& v : x) v = static_cast<double>(g() >> 11) * 0x1.0p-53 * 3.7 - 1.1;
    xs.push_back(x);
    arrays.push_back(x);
  }
  const json want = python("print(json.dumps([[float(np.sum(a)), float(np.mean(a)), float(np.std(a))] "
                           "for a in map(np.array, x)]))",
                           arrays);
  for (size_t i = 0; i < xs.size(); ++i) {
    EXPECT_EQ(np_sum(xs[i]), want[i][0].get<double>()) << xs[i].size();
    EXPECT_EQ(np_mean(xs[i]), want[i][1].get<double>()) << xs[i].size();
    EXPECT_EQ(np_std(xs[i]), want[i][2].get<double>()) << xs[i].size();
  }
}
