#include "core/config.h"

#include <functional>
#include "core/error.h"
#include "core/schema.h"
#include "tests/support/test_support.h"

#include <gtest/gtest.h>

using nlohmann::json;
using uda::UserError;
using uda::test::TempDir;
using uda::test::write_text;
namespace cfg = uda::config;

namespace {
// Keys used only by these tests.
const cfg::KeyRegistrar kTestKeys({
    {"test.a", cfg::Type::Int, 1, "an int"},
    {"test.b", cfg::Type::String, "x", "a string"},
    {"test.nested.deep", cfg::Type::Number, 0.5, "a number"},
    {"test.nested.list", cfg::Type::Array, json::array({1, 2}), "a list"},
    {"test.free", cfg::Type::Object, json::object(), "free-form object"},
    {"test.mode", cfg::Type::String, "fast", "a choice", false, {"fast", "slow"}},
    {"test.req", cfg::Type::Int, nullptr, "required", true},
});

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const UserError& e) {
    return uda::format_user_error(e);
  }
  return "";
}
}  // namespace

TEST(Config, BaseChainMergesDeeplyLaterWins) {
  TempDir d;
  write_text(d / "a.json", R"({"test": {"a": 2, "b": "from_a", "nested": {"deep": 1.5}}})");
  write_text(d / "b.json", R"({"_base_": "a.json", "test": {"b": "from_b"}})");
  write_text(d / "sub/c.json", R"({"_base_": "../b.json", "test": {"nested": {"list": [3]}, "req": 7}})");
  auto c = cfg::load(d / "sub/c.json");
  EXPECT_EQ(c.get<int>("test.a"), 2);
  EXPECT_EQ(c.get<std::string>("test.b"), "from_b");
  EXPECT_DOUBLE_EQ(c.get<double>("test.nested.deep"), 1.5);
  EXPECT_EQ(c.at("test.nested.list"), json::array({3}));  // lists are replaced, not merged
  EXPECT_NE(c.origin("test.b").find("b.json"), std::string::npos);
  EXPECT_NE(c.origin("test.a").find("a.json"), std::string::npos);
}

TEST(Config, BaseListMergedInOrder) {
  TempDir d;
  write_text(d / "x.json", R"({"test": {"a": 10, "b": "x"}})");
  write_text(d / "y.json", R"({"test": {"a": 20}})");
  write_text(d / "top.json", R"({"_base_": ["x.json", "y.json"], "test": {"req": 1}})");
  auto c = cfg::load(d / "top.json");
  EXPECT_EQ(c.get<int>("test.a"), 20);
  EXPECT_EQ(c.get<std::string>("test.b"), "x");
}

TEST(Config, DeleteReplacesInheritedObject) {
  TempDir d;
  write_text(d / "base.json", R"({"test": {"free": {"k1": 1, "k2": 2}, "req": 1}})");
  write_text(d / "top.json", R"({"_base_": "base.json", "test": {"free": {"_delete_": true, "k3": 3}}})");
  auto c = cfg::load(d / "top.json");
  EXPECT_EQ(c.at("test.free"), json({{"k3", 3}}));
  write_text(d / "merge.json", R"({"_base_": "base.json", "test": {"free": {"k3": 3}}})");
  EXPECT_EQ(cfg::load(d / "merge.json").at("test.free"), json({{"k1", 1}, {"k2", 2}, {"k3", 3}}));
}

TEST(Config, DefaultsFilledAndRequiredChecked) {
  TempDir d;
  write_text(d / "c.json", R"({"test": {"req": 3}})");
  auto c = cfg::load(d / "c.json");
  EXPECT_EQ(c.get<int>("test.a"), 1);
  EXPECT_EQ(c.get<std::string>("test.mode"), "fast");
  EXPECT_EQ(c.origin("test.a"), "");
  write_text(d / "missing.json", R"({"test": {"a": 3}})");
  EXPECT_EQ(error_of([&] { cfg::load(d / "missing.json"); }).rfind("uda: error: missing required config key (test.req)", 0), 0u);
}

TEST(Config, IncludeCycleShowsTheCycle) {
  TempDir d;
  write_text(d / "a.json", R"({"_base_": "b.json"})");
  write_text(d / "b.json", R"({"_base_": "c.json"})");
  write_text(d / "c.json", R"({"_base_": "a.json"})");
  std::string err = error_of([&] { cfg::load(d / "a.json"); });
  EXPECT_NE(err.find("include cycle"), std::string::npos) << err;
  EXPECT_NE(err.find("a.json -> " + d.path() + "/b.json -> " + d.path() + "/c.json -> " + d.path() + "/a.json"),
            std::string::npos)
      << err;
}

TEST(Config, OverridesParseJsonElseString) {
  TempDir d;
  write_text(d / "c.json", R"({"test": {"req": 1}})");
  auto c = cfg::load(d / "c.json", {"test.a=42", "test.b=hello world", "test.nested.list=[1,2,3]",
                                     "test.nested.deep=1e-3", "test.free={\"z\":true}"});
  EXPECT_EQ(c.get<int>("test.a"), 42);
  EXPECT_EQ(c.get<std::string>("test.b"), "hello world");
  EXPECT_EQ(c.at("test.nested.list"), json::array({1, 2, 3}));
  EXPECT_DOUBLE_EQ(c.get<double>("test.nested.deep"), 1e-3);
  EXPECT_EQ(c.at("test.free"), json({{"z", true}}));
  EXPECT_EQ(c.origin("test.a"), "--set test.a");
  // the last of repeated overrides wins
  EXPECT_EQ(cfg::load(d / "c.json", {"test.a=1", "test.a=5"}).get<int>("test.a"), 5);
}

TEST(Config, UnknownKeyNamesFilePathAndNearestKey) {
  TempDir d;
  write_text(d / "c.json", R"({"test": {"req": 1, "nestd": {"deep": 1}}})");
  std::string err = error_of([&] { cfg::load(d / "c.json"); });
  EXPECT_EQ(err, "uda: error: unknown config key (" + d.path() + "/c.json: test.nestd): did you mean "
                 "'test.nested'? (see `uda config doc`)");
  err = error_of([&] { cfg::load(d / "c.json", {"test.nestd.deep=2"}); });
  EXPECT_NE(err.find("unknown config key"), std::string::npos);
  std::string err2 = error_of([&] {
    TempDir e;
    write_text(e / "c.json", R"({"test": {"req": 1}})");
    cfg::load(e / "c.json", {"test.aa=2"});
  });
  EXPECT_NE(err2.find("(--set test.aa: test.aa): did you mean 'test.a'?"), std::string::npos) << err2;
}

TEST(Config, WrongTypeNamesExpectedAndActual) {
  TempDir d;
  write_text(d / "c.json", R"({"test": {"req": 1, "a": "three"}})");
  std::string err = error_of([&] { cfg::load(d / "c.json"); });
  EXPECT_EQ(err.rfind("uda: error: wrong type for config key: expected int, got string (" + d.path() +
                          "/c.json: test.a)",
                      0),
            0u)
      << err;
  write_text(d / "s.json", R"({"test": {"req": 1, "nested": 4}})");
  err = error_of([&] { cfg::load(d / "s.json"); });
  EXPECT_NE(err.find("expected object, got int"), std::string::npos) << err;
}

TEST(Config, ChoicesAreEnforced) {
  TempDir d;
  write_text(d / "c.json", R"({"test": {"req": 1, "mode": "medium"}})");
  std::string err = error_of([&] { cfg::load(d / "c.json"); });
  EXPECT_NE(err.find("invalid value 'medium'"), std::string::npos);
  EXPECT_NE(err.find("choose one of fast|slow"), std::string::npos);
}

TEST(Config, MalformedJsonReportsLineAndColumn) {
  TempDir d;
  write_text(d / "bad.json", "{\n  \"test\": {\n    \"a\": 1,,\n  }\n}\n");
  std::string err = error_of([&] { cfg::load(d / "bad.json"); });
  EXPECT_NE(err.find("malformed JSON"), std::string::npos) << err;
  EXPECT_NE(err.find("bad.json:3:"), std::string::npos) << err;
}

TEST(Config, MissingFileAndBadBase) {
  TempDir d;
  EXPECT_NE(error_of([&] { cfg::load(d / "nope.json"); }).find("config file not found"), std::string::npos);
  write_text(d / "c.json", R"({"_base_": "gone.json"})");
  EXPECT_NE(error_of([&] { cfg::load(d / "c.json"); }).find("base config not found"), std::string::npos);
  write_text(d / "n.json", R"({"_base_": 5})");
  EXPECT_NE(error_of([&] { cfg::load(d / "n.json"); }).find("_base_ must be a path or a list"), std::string::npos);
  write_text(d / "arr.json", "[1,2]");
  EXPECT_NE(error_of([&] { cfg::load(d / "arr.json"); }).find("config must be a JSON object"), std::string::npos);
}

TEST(Config, MalformedOverride) {
  TempDir d;
  write_text(d / "c.json", R"({"test": {"req": 1}})");
  EXPECT_NE(error_of([&] { cfg::load(d / "c.json", {"test.a"}); }).find("malformed override"), std::string::npos);
  write_text(d / "c2.json", R"({"test": {"req": 1, "a": 3}})");
  EXPECT_NE(error_of([&] { cfg::load(d / "c2.json", {"test.a.x=1"}); }).find("'test.a' is a int"), std::string::npos);
}

TEST(Config, HashIsStableAndSensitive) {
  TempDir d;
  write_text(d / "c.json", R"({"test": {"req": 1, "a": 2}})");
  write_text(d / "c2.json", R"({"test": {"a": 2, "req": 1}})");
  auto h1 = cfg::load(d / "c.json").hash();
  EXPECT_EQ(h1.size(), 16u);
  EXPECT_EQ(h1, cfg::load(d / "c2.json").hash());  // key order does not matter
  EXPECT_NE(h1, cfg::load(d / "c.json", {"test.a=3"}).hash());
  cfg::write_resolved(cfg::load(d / "c.json"), d / "run");
  EXPECT_EQ(uda::test::read_text(d / "run/config.hash"), h1 + "\n");
  EXPECT_EQ(json::parse(uda::test::read_text(d / "run/config.json"))["test"]["a"], 2);
}
