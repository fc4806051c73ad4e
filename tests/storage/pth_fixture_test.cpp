// The .pth reader on the four files rebuilt from the parity fixture's
// manifests: every key, shape, dtype and sha256 must match the manifest.
#include "core/fs.h"
#include "storage/digest.h"
#include "storage/pth_reader.h"
#include "tests/storage/storage_test_util.h"

#include <gtest/gtest.h>
#include <cstring>
#include <nlohmann/json.hpp>

namespace uda::storage {
namespace {

class PthFixture : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!storage_test::parity_weights_available()) GTEST_SKIP() << "python3 with torch not available";
  }
};

TEST_P(PthFixture, EveryTensorMatchesTheManifest) {
  const std::string name = GetParam();
  const std::string dir = storage_test::parity_weights_dir();
  auto manifest = nlohmann::json::parse(fs_util::read_file(storage_test::parity_dir() + "/" + name + ".weights.json"));
  PyValuePtr root = read_pth(dir + "/" + name + ".pth");
  ASSERT_TRUE(root->is_dict());
  StateDict sd = state_dict_from(*root, name);
  const auto& tensors = manifest["tensors"];
  ASSERT_EQ(sd.size(), tensors.size());
  int64_t values = 0;
  for (size_t i = 0; i < sd.size(); ++i) {
    const auto& e = tensors[i];
    const auto& [key, t] = sd[i];
    ASSERT_EQ(key, e["key"].get<std::string>()) << i;
    EXPECT_EQ(t.shape, e["shape"].get<std::vector<int64_t>>()) << key;
    EXPECT_STREQ(dtype_name(t.dtype), e["dtype"].get<std::string>().c_str()) << key;
    EXPECT_EQ(sha256_hex(t.bytes.data(), t.bytes.size()), e["sha256"].get<std::string>()) << key;
    values += t.numel();
  }
  EXPECT_EQ(values, manifest["num_values"].get<int64_t>());

  // The OrderedDict keeps _metadata (prefix -> {"version": n}) in order.
  const PyValue& sdv = root->get("state_dict") ? *root->get("state_dict") : *root;
  EXPECT_TRUE(sdv.ordered);
  ASSERT_EQ(sdv.attributes.size(), 1u);
  EXPECT_EQ(sdv.attributes[0].first, "_metadata");
  const PyValue& meta = *sdv.attributes[0].second;
  ASSERT_EQ(meta.dict.size(), manifest["metadata"].size());
  for (size_t i = 0; i < meta.dict.size(); ++i) {
    EXPECT_EQ(meta.dict[i].first->s, manifest["metadata"][i][0].get<std::string>());
    EXPECT_EQ(meta.dict[i].second->get("version")->i, manifest["metadata"][i][1]["version"].get<int64_t>());
  }
}

INSTANTIATE_TEST_SUITE_P(Parity, PthFixture,
                         ::testing::Values("daformer_mitb0", "mit_b0_imagenet", "deeplabv2_r101", "fc_discriminator"));

TEST(PthFixtureLayout, DaformerCheckpointMetaAndPrefixes) {
  if (!storage_test::parity_weights_available()) GTEST_SKIP();
  const std::string dir = storage_test::parity_weights_dir();
  PyValuePtr root = read_pth(dir + "/daformer_mitb0.pth");
  ASSERT_EQ(root->dict.size(), 2u);
  EXPECT_EQ(root->dict[0].first->s, "meta");
  EXPECT_FALSE(root->ordered);
  PyValuePtr meta = root->get("meta");
  ASSERT_TRUE(meta);
  EXPECT_EQ(meta->get("iter")->i, 40000);
  PyValuePtr classes = meta->get("CLASSES");
  ASSERT_EQ(classes->kind, PyValue::Kind::Tuple);
  ASSERT_EQ(classes->items.size(), 19u);
  EXPECT_EQ(classes->items[6]->s, "traffic light");

  StateDict sd = state_dict_from(*root, "daformer");
  StateDict student = select_prefix(sd, "model.");
  StateDict teacher = select_prefix(sd, "ema_model.");
  StateDict imnet = select_prefix(sd, "imnet_model.backbone.");
  EXPECT_EQ(student.size(), 234u);
  EXPECT_EQ(teacher.size(), 234u);
  EXPECT_EQ(imnet.size(), 176u);
  EXPECT_EQ(student[0].first, "backbone.patch_embed1.proj.weight");
  EXPECT_NE(student[0].second.bytes, teacher[0].second.bytes);
  // imnet_model.backbone.* equals mit_b0_imagenet.pth without its head.
  StateDict mit = read_pth_state_dict(dir + "/mit_b0_imagenet.pth");
  ASSERT_EQ(mit.size(), 178u);
  for (size_t i = 0; i < imnet.size(); ++i) {
    EXPECT_EQ(imnet[i].first, mit[i].first);
    EXPECT_EQ(imnet[i].second.bytes, mit[i].second.bytes) << imnet[i].first;
  }
  // num_batches_tracked is a 0-d int64.
  const TensorData* nbt = find_tensor(student, "decode_head.fuse_layer.aspp_modules.0.bn.num_batches_tracked");
  ASSERT_TRUE(nbt);
  EXPECT_TRUE(nbt->shape.empty());
  EXPECT_EQ(nbt->dtype, DType::Int64);
  int64_t v = 0;
  std::memcpy(&v, nbt->bytes.data(), 8);
  EXPECT_EQ(v, 80000);
}

}  // namespace
}  // namespace uda::storage
