// .pth writer and reader against Python's torch: our files load in
// torch.load with identical values, and torch.save's views, shared storages,
// 0-d tensors and all dtypes read back exactly.
#include "storage/digest.h"
#include "storage/pth_reader.h"
#include "storage/pth_writer.h"
#include "tests/storage/storage_test_util.h"
#include "tests/support/test_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>

namespace uda::storage {
namespace {

// Prints {key: [dtype, shape, sha256 of the contiguous little-endian bytes]}.
const char* kDescribe =
    "import sys, json, hashlib, torch\n"
    "obj = torch.load(sys.argv[1])\n"
    "sd = obj['state_dict'] if 'state_dict' in obj else obj\n"
    "def d(t):\n"
    "    c = t.detach().contiguous()\n"
    "    b = c.view(torch.int16).numpy().tobytes() if c.dtype == torch.bfloat16 else c.numpy().tobytes()\n"
    "    return [str(c.dtype).replace('torch.', ''), list(c.shape), hashlib.sha256(b).hexdigest()]\n"
    "out = {'type': type(sd).__name__, 'keys': list(sd.keys()), 'tensors': {k: d(v) for k, v in sd.items()},\n"
    "       'metadata': [[k, v] for k, v in getattr(sd, '_metadata', {}).items()]}\n"
    "print(json.dumps(out))\n";

TensorData filled(DType dtype, std::vector<int64_t> shape, int seed) {
  TensorData t = make_tensor(dtype, std::move(shape));
  for (size_t i = 0; i < t.bytes.size(); ++i) t.bytes[i] = static_cast<uint8_t>((i * 131 + static_cast<size_t>(seed) * 17) % 251);
  if (dtype == DType::Bool)
    for (auto& b : t.bytes) b &= 1;
  return t;
}

// Python with torch is a test dependency (scripts/install-deps.sh): without
// it storage_test::run_python fails the test, naming the packages.
class PthRoundTrip : public ::testing::Test {};

TEST_F(PthRoundTrip, TorchLoadReadsOurFiles) {
  uda::test::TempDir dir;
  StateDict sd;
  sd.emplace_back("conv.weight", filled(DType::Float32, {4, 3, 3, 3}, 1));
  sd.emplace_back("bn.num_batches_tracked", filled(DType::Int64, {}, 2));
  sd.emplace_back("d", filled(DType::Float64, {5}, 3));
  sd.emplace_back("h", filled(DType::Float16, {2, 2}, 4));
  sd.emplace_back("bf", filled(DType::BFloat16, {3}, 5));
  sd.emplace_back("i32", filled(DType::Int32, {2}, 6));
  sd.emplace_back("i16", filled(DType::Int16, {2}, 7));
  sd.emplace_back("i8", filled(DType::Int8, {3}, 8));
  sd.emplace_back("u8", filled(DType::UInt8, {3}, 9));
  sd.emplace_back("mask", filled(DType::Bool, {4}, 10));
  sd.emplace_back("empty", filled(DType::Float32, {0, 3}, 11));
  int64_t big = int64_t{1} << 40;
  TensorData bigint = make_tensor(DType::Int64, {});
  std::memcpy(bigint.bytes.data(), &big, 8);
  sd.emplace_back("big", bigint);
  PthWriteOptions opt;
  opt.module_versions = {{"", 1}, {"bn", 2}};
  std::string path = dir / "exported.pth";
  write_pth(path, sd, opt);

  std::string out;
  ASSERT_EQ(storage_test::run_python(kDescribe, {path}, &out), 0);
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["type"], "OrderedDict");
  ASSERT_EQ(j["keys"].size(), sd.size());
  for (size_t i = 0; i < sd.size(); ++i) {
    const auto& [k, t] = sd[i];
    EXPECT_EQ(j["keys"][i], k);
    const auto& d = j["tensors"][k];
    EXPECT_EQ(d[0].get<std::string>(), dtype_name(t.dtype)) << k;
    EXPECT_EQ(d[1].get<std::vector<int64_t>>(), t.shape) << k;
    EXPECT_EQ(d[2].get<std::string>(), sha256_hex(t.bytes.data(), t.bytes.size())) << k;
  }
  EXPECT_EQ(j["metadata"].dump(), R"([["",{"version":1}],["bn",{"version":2}]])");

  // And our reader reads our writer.
  StateDict back = read_pth_state_dict(path);
  ASSERT_EQ(back.size(), sd.size());
  for (size_t i = 0; i < sd.size(); ++i) {
    EXPECT_EQ(back[i].first, sd[i].first);
    EXPECT_EQ(back[i].second.dtype, sd[i].second.dtype);
    EXPECT_EQ(back[i].second.shape, sd[i].second.shape);
    EXPECT_EQ(back[i].second.bytes, sd[i].second.bytes);
  }
}

TEST_F(PthRoundTrip, WeReadTorchViewsSharedStoragesAndDtypes) {
  uda::test::TempDir dir;
  std::string path = dir / "torch.pth";
  std::string out;
  ASSERT_EQ(storage_test::run_python(
                "import sys, collections, torch\n"
                "g = torch.Generator().manual_seed(0)\n"
                "base = torch.randn(6, 5, generator=g)\n"
                "sd = collections.OrderedDict()\n"
                "sd['base'] = base\n"
                "sd['t'] = base.t()\n"                 // transposed view, same storage
                "sd['slice'] = base[1:4, ::2]\n"       // offset + strides
                "sd['row'] = base[2]\n"                 // offset view
                "sd['expand'] = torch.arange(3.).expand(4, 3)\n"  // stride 0
                "sd['scalar'] = torch.tensor(7, dtype=torch.int64)\n"
                "sd['half'] = torch.randn(3, generator=g).half()\n"
                "sd['bf16'] = torch.randn(3, generator=g).bfloat16()\n"
                "sd['bool'] = torch.tensor([True, False, True])\n"
                "sd['int8'] = torch.tensor([-3, 5], dtype=torch.int8)\n"
                "sd['param'] = torch.nn.Parameter(torch.ones(2))\n"
                "torch.save({'meta': {'iter': 12, 'lr': 0.5, 'name': 'x', 'none': None}, 'state_dict': sd}, sys.argv[1])\n" +
                    std::string(kDescribe),  // one interpreter start: torch imports slowly
                {path}, &out),
            0);
  auto j = nlohmann::json::parse(out);
  PyValuePtr root = read_pth(path);
  PyValuePtr meta = root->get("meta");
  ASSERT_TRUE(meta);
  EXPECT_EQ(meta->get("iter")->i, 12);
  EXPECT_DOUBLE_EQ(meta->get("lr")->f, 0.5);
  EXPECT_EQ(meta->get("name")->s, "x");
  EXPECT_EQ(meta->get("none")->kind, PyValue::Kind::None);
  StateDict sd = state_dict_from(*root, path);
  ASSERT_EQ(sd.size(), j["keys"].size());
  for (size_t i = 0; i < sd.size(); ++i) {
    const auto& [k, t] = sd[i];
    EXPECT_EQ(j["keys"][i], k);
    const auto& d = j["tensors"][k];
    EXPECT_EQ(d[0].get<std::string>(), dtype_name(t.dtype)) << k;
    EXPECT_EQ(d[1].get<std::vector<int64_t>>(), t.shape) << k;
    EXPECT_EQ(d[2].get<std::string>(), sha256_hex(t.bytes.data(), t.bytes.size())) << k;
  }
}

}  // namespace
}  // namespace uda::storage
