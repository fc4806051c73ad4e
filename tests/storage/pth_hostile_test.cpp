// The .pth reader refuses hostile or broken input with a UserError that
// names the file and the reason, without crashing or allocating wildly.
#include "core/error.h"
#include "storage/pth_reader.h"
#include "storage/zip_writer.h"
#include "tests/storage/storage_test_util.h"
#include "tests/support/test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace uda::storage {
namespace {

using ::testing::HasSubstr;

// A torch.save-like archive whose data.pkl is `pickle`, plus storages.
std::string make_pth(const uda::test::TempDir& dir, const std::string& pickle,
                     const std::vector<std::pair<std::string, std::string>>& storages = {}) {
  std::string path = dir / "x.pth";
  ZipWriter zip(path);
  zip.add("x/data.pkl", pickle.data(), pickle.size());
  for (const auto& [k, v] : storages) zip.add("x/data/" + k, v.data(), v.size());
  zip.add("x/version", "3\n", 2);
  zip.finish();
  return path;
}

std::string refusal(const std::string& path) {
  try {
    read_pth(path);
  } catch (const UserError& e) {
    EXPECT_EQ(e.where(), path);
    return e.line();
  }
  ADD_FAILURE() << "no UserError for " << path;
  return "";
}

// Pickle fragments.
std::string binunicode(const std::string& s) {
  std::string r = "X";
  uint32_t n = static_cast<uint32_t>(s.size());
  r.append(reinterpret_cast<const char*>(&n), 4);
  return r + s;
}
std::string binint(int32_t v) {
  std::string r = "J";
  r.append(reinterpret_cast<const char*>(&v), 4);
  return r;
}
// OrderedDict({"w": _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())})
std::string tensor_pickle(const std::string& storage_type, int64_t numel, int32_t offset, std::vector<int32_t> size,
                          std::vector<int32_t> stride) {
  std::string p = "\x80\x02" "ccollections\nOrderedDict\n)R(" + binunicode("w") +
                  "ctorch._utils\n_rebuild_tensor_v2\n((" + binunicode("storage") + "ctorch\n" + storage_type + "\n" +
                  binunicode("0") + binunicode("cpu");
  if (numel > INT32_MAX) {
    p += "\x8a\x08";
    p.append(reinterpret_cast<const char*>(&numel), 8);
  } else {
    p += binint(static_cast<int32_t>(numel));
  }
  p += "tQ" + binint(offset) + "(";
  for (auto s : size) p += binint(s);
  p += "t(";
  for (auto s : stride) p += binint(s);
  p += "t\x89" "ccollections\nOrderedDict\n)RtRu.";
  return p;
}

TEST(PthHostile, OsSystemReduceIsRefusedAtTheGlobal) {
  uda::test::TempDir dir;
  std::string path = make_pth(dir, "\x80\x02" "cos\nsystem\n" + binunicode("touch " + (dir / "pwned")) + "\x85R.");
  std::string msg = refusal(path);
  EXPECT_THAT(msg, HasSubstr("global 'os.system'"));
  EXPECT_THAT(msg, HasSubstr("only tensor state dicts are supported"));
  EXPECT_FALSE(std::filesystem::exists(dir / "pwned"));
}

TEST(PthHostile, UnknownGlobalsAndOpcodesAreRefused) {
  uda::test::TempDir dir;
  EXPECT_THAT(refusal(make_pth(dir, "\x80\x02" "cbuiltins\neval\n.")), HasSubstr("global 'builtins.eval'"));
  EXPECT_THAT(refusal(make_pth(dir, "\x80\x02" "ctorch.nn.modules.conv\nConv2d\n.")), HasSubstr("torch.nn.modules.conv.Conv2d"));
  // INST executes a class by name in Python.
  EXPECT_THAT(refusal(make_pth(dir, "\x80\x02(ios\nsystem\n.")), HasSubstr("opcode INST"));
  // An allowed global may still not be called with anything.
  EXPECT_THAT(refusal(make_pth(dir, "\x80\x02" "ctorch\nFloatStorage\n)R.")), HasSubstr("REDUCE of global 'torch.FloatStorage'"));
}

TEST(PthHostile, TorchSavedObjectWithReduceIsRefused) {
  uda::test::TempDir dir;
  std::string path = dir / "evil.pth", marker = dir / "pwned";
  ASSERT_EQ(storage_test::run_python(
                "import os, sys, torch\n"
                "class Evil:\n"
                "    def __reduce__(self): return (os.system, ('touch ' + sys.argv[2],))\n"
                "torch.save({'w': torch.zeros(3), 'evil': Evil()}, sys.argv[1])\n",
                {path, marker}, nullptr),
            0);
  EXPECT_THAT(refusal(path), HasSubstr("'posix.system'"));
  EXPECT_FALSE(std::filesystem::exists(marker));
}

TEST(PthHostile, HugeDeclaredSizesAndBadViewsAreRefused) {
  uda::test::TempDir dir;
  std::string four_floats(16, '\0');
  // Storage claims 2^40 elements but its record holds 16 bytes.
  EXPECT_THAT(refusal(make_pth(dir, tensor_pickle("FloatStorage", int64_t{1} << 40, 0, {4}, {1}), {{"0", four_floats}})),
              HasSubstr("holds 16 bytes"));
  // A view far beyond its storage.
  EXPECT_THAT(refusal(make_pth(dir, tensor_pickle("FloatStorage", 4, 0, {1 << 30, 1 << 30}, {1 << 30, 1}), {{"0", four_floats}})),
              HasSubstr("beyond its storage"));
  EXPECT_THAT(refusal(make_pth(dir, tensor_pickle("FloatStorage", 4, 3, {2}, {1}), {{"0", four_floats}})),
              HasSubstr("beyond its storage"));
  EXPECT_THAT(refusal(make_pth(dir, tensor_pickle("FloatStorage", 4, -1, {2}, {1}), {{"0", four_floats}})),
              HasSubstr("offset"));
  // Missing storage record.
  EXPECT_THAT(refusal(make_pth(dir, tensor_pickle("FloatStorage", 4, 0, {4}, {1}))), HasSubstr("missing"));
  // A string length beyond the data.
  EXPECT_THAT(refusal(make_pth(dir, std::string("\x80\x02X\xff\xff\xff\x7f" "abc.", 10))), HasSubstr("beyond the end"));
  // A tiny storage viewed a million times (zero strides) would need 16 TB.
  EXPECT_THAT(refusal(make_pth(dir, tensor_pickle("FloatStorage", 4, 0, {1 << 20, 1 << 20}, {0, 0}), {{"0", four_floats}})),
              HasSubstr("tensors totalling more than"));
}

TEST(PthHostile, RecursionBombsAndCyclesAreRefused) {
  uda::test::TempDir dir;
  std::string deep = "\x80\x02" + std::string(100000, ']') + std::string(99999, 'a') + ".";
  EXPECT_THAT(refusal(make_pth(dir, deep)), HasSubstr("nesting deeper than"));
  // l = []; l.append(l)
  EXPECT_THAT(refusal(make_pth(dir, std::string("\x80\x02]q\x00h\x00" "a.", 8))), HasSubstr("contains itself"));
  // a = []; b = [a]; a.append(b) -> a is sealed inside b.
  EXPECT_THAT(refusal(make_pth(dir, std::string("\x80\x02]q\x00]h\x00" "aq\x01h\x00h\x01" "a0.", 17))),
              HasSubstr("already placed"));
}

TEST(PthHostile, TruncatedAndCorruptArchivesAreRefused) {
  uda::test::TempDir dir;
  // A real torch.save file to damage (64 KiB of tensor data after data.pkl).
  ASSERT_EQ(storage_test::run_python("import collections, sys, torch\n"
                                     "sd = collections.OrderedDict(w=torch.arange(16384, dtype=torch.float32))\n"
                                     "torch.save(sd, sys.argv[1])\n",
                                     {dir / "good.pth"}, nullptr),
            0);
  std::string bytes = uda::test::read_text(dir / "good.pth");
  ASSERT_GT(bytes.size(), 65536u);
  auto write = [&](const std::string& name, const std::string& content) {
    std::ofstream(dir / name, std::ios::binary) << content;
    return dir / name;
  };
  EXPECT_THAT(refusal(write("half.pth", bytes.substr(0, bytes.size() / 2))), HasSubstr("end-of-central-directory"));
  EXPECT_THAT(refusal(write("empty.pth", "")), HasSubstr("too small"));
  std::string flipped = bytes;
  flipped[bytes.size() / 2] = static_cast<char>(flipped[bytes.size() / 2] ^ 0x40);  // inside the tensor record
  EXPECT_THAT(refusal(write("flipped.pth", flipped)), HasSubstr("CRC-32 mismatch"));
  // Damage the pickle itself: its protocol byte (data.pkl starts with PROTO
  // 2, "\x80\x02"); the record's CRC catches it first.
  std::string pkl_cut = bytes;
  const size_t pkl = bytes.find("\x80\x02", bytes.find("data.pkl"));
  ASSERT_NE(pkl, std::string::npos);
  pkl_cut[pkl + 1] = 9;
  EXPECT_THAT(refusal(write("pkl.pth", pkl_cut)), HasSubstr("corrupt"));
  EXPECT_THAT(refusal(write("text.pth", std::string(100, 'x'))), HasSubstr("end-of-central-directory"));
}

TEST(PthHostile, TruncatedPickleIsRefused) {
  uda::test::TempDir dir;
  std::string p = tensor_pickle("FloatStorage", 4, 0, {4}, {1});
  EXPECT_THAT(refusal(make_pth(dir, p.substr(0, p.size() - 1), {{"0", std::string(16, '\0')}})), HasSubstr("truncated"));
}

}  // namespace
}  // namespace uda::storage
