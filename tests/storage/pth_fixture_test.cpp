// The .pth reader on every file of the parity set, rebuilt from its manifest:
// each key, shape, dtype and sha256, the _metadata attribute, and the
// checkpoint container (meta, key prefixes, tensors shared with another file)
// must be what the manifest states. The manifests are discovered in the set
// (tests/support/parity_fixture.h): nothing about a particular set is named.
#include "storage/digest.h"
#include "storage/pth_reader.h"
#include "tests/support/parity_fixture.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>

namespace uda::storage {
namespace {

using test::ParityManifest;

TEST(PthFixture, EveryTensorOfEveryManifestMatches) {
  const auto manifests = test::parity_manifests();
  ASSERT_FALSE(manifests.empty()) << "no *.weights.json in " << test::parity_dir();
  for (const ParityManifest& m : manifests) {
    SCOPED_TRACE(m.path);
    PyValuePtr root = read_pth(test::parity_weights(m.file));
    ASSERT_TRUE(root->is_dict());
    StateDict sd = state_dict_from(*root, m.file);
    const auto& tensors = m.json["tensors"];
    ASSERT_EQ(sd.size(), tensors.size());
    EXPECT_EQ(static_cast<int64_t>(sd.size()), m.json["num_tensors"].get<int64_t>());
    int64_t values = 0;
    for (size_t i = 0; i < sd.size(); ++i) {
      const auto& e = tensors[i];
      const auto& [key, t] = sd[i];
      ASSERT_EQ(key, e["key"].get<std::string>()) << i;
      EXPECT_EQ(t.shape, e["shape"].get<std::vector<int64_t>>()) << key;
      EXPECT_STREQ(dtype_name(t.dtype), e["dtype"].get<std::string>().c_str()) << key;
      EXPECT_EQ(sha256_hex(t.bytes.data(), t.bytes.size()), e["sha256"].get<std::string>()) << key;
      if (e.contains("value")) {  // num_batches_tracked: a 0-d int64 holding the stated value
        ASSERT_EQ(t.dtype, DType::Int64) << key;
        EXPECT_TRUE(t.shape.empty()) << key;
        int64_t v = 0;
        std::memcpy(&v, t.bytes.data(), 8);
        EXPECT_EQ(v, e["value"].get<int64_t>()) << key;
      }
      values += t.numel();
    }
    EXPECT_EQ(values, m.json["num_values"].get<int64_t>());

    // The OrderedDict keeps _metadata (prefix -> {"version": n}) in order.
    const PyValue& sdv = root->get("state_dict") ? *root->get("state_dict") : *root;
    EXPECT_TRUE(sdv.ordered);
    ASSERT_EQ(sdv.attributes.size(), 1u);
    EXPECT_EQ(sdv.attributes[0].first, "_metadata");
    const PyValue& meta = *sdv.attributes[0].second;
    ASSERT_EQ(meta.dict.size(), m.json["metadata"].size());
    for (size_t i = 0; i < meta.dict.size(); ++i) {
      EXPECT_EQ(meta.dict[i].first->s, m.json["metadata"][i][0].get<std::string>());
      EXPECT_EQ(meta.dict[i].second->get("version")->i, m.json["metadata"][i][1]["version"].get<int64_t>());
    }
  }
}

// Checkpoints stored as a dict (DACS: {"meta", "state_dict"}): the container
// as the manifest describes it, and every tensor marked "same_as" another
// file's tensor holds that tensor's bytes.
TEST(PthFixture, CheckpointContainersAndSharedTensors) {
  int containers = 0, shared = 0;
  for (const ParityManifest& m : test::parity_manifests()) {
    SCOPED_TRACE(m.path);
    const auto& c = m.json["container"];
    PyValuePtr root = read_pth(test::parity_weights(m.file));
    if (c["python_type"] == "dict") {
      ++containers;
      EXPECT_FALSE(root->ordered);
      ASSERT_EQ(root->dict.size(), c["keys_in_order"].size());
      for (size_t i = 0; i < root->dict.size(); ++i)
        EXPECT_EQ(root->dict[i].first->s, c["keys_in_order"][i].get<std::string>());
      PyValuePtr meta = root->get("meta");
      ASSERT_TRUE(meta);
      ASSERT_EQ(meta->dict.size(), c["meta_key_order"].size());
      for (const auto& [k, v] : c["meta"].items()) {
        PyValuePtr got = meta->get(k);
        ASSERT_TRUE(got) << "meta." << k;
        if (v.is_number_integer()) {
          EXPECT_EQ(got->i, v.get<int64_t>()) << "meta." << k;
        } else if (v.is_array()) {  // a tuple of str (CLASSES)
          EXPECT_EQ(got->kind, PyValue::Kind::Tuple) << "meta." << k;
          ASSERT_EQ(got->items.size(), v.size()) << "meta." << k;
          for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(got->items[i]->s, v[i].get<std::string>());
        }
      }
      StateDict sd = state_dict_from(*root, m.file);
      for (const auto& p : c["key_prefixes"])
        EXPECT_EQ(select_prefix(sd, p["prefix"].get<std::string>()).size(), p["count"].get<size_t>())
            << p["prefix"];
    }
    // "same_as": "<file>: <key>" names a tensor of another file of the set.
    const StateDict sd = state_dict_from(*root, m.file);
    std::map<std::string, StateDict> others;
    for (const auto& e : m.json["tensors"]) {
      if (!e.contains("same_as")) continue;
      const std::string ref = e["same_as"];
      const auto colon = ref.find(": ");
      ASSERT_NE(colon, std::string::npos) << ref;
      const std::string file = ref.substr(0, colon), key = ref.substr(colon + 2);
      if (!others.count(file)) others[file] = read_pth_state_dict(test::parity_weights(file));
      const TensorData* mine = find_tensor(sd, e["key"].get<std::string>());
      const TensorData* theirs = find_tensor(others[file], key);
      ASSERT_TRUE(mine && theirs) << ref;
      EXPECT_EQ(mine->bytes, theirs->bytes) << e["key"];
      ++shared;
    }
  }
  // The recipe's sets hold a DACS checkpoint whose ImageNet backbone is
  // another file of the set; a set without them would leave this test empty.
  EXPECT_GT(containers, 0) << "no checkpoint stored as a dict in " << test::parity_dir();
  EXPECT_GT(shared, 0) << "no tensor marked same_as in " << test::parity_dir();
}

}  // namespace
}  // namespace uda::storage
