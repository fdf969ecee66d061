#include <bit>
#include <functional>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/testing/status_matchers.h"
#include "scan_test_util.h"
#include "ubjson.h"

namespace aegis::scan {
namespace {

using namespace std::string_literals;
using testing::Describe;
using testing::HasFinding;
using testing::Span;

TEST(XgboostScanner, ExamplesAreClean) {
  auto json = ScanBytes(Span(testing::ReadExample("xgb_classifier.json")));
  ASSERT_OK(json);
  EXPECT_EQ(json->format, Format::kXgboostJson);
  EXPECT_TRUE(json->clean()) << Describe(*json);
  auto ubj = ScanBytes(Span(testing::ReadExample("xgb_classifier.ubj")));
  ASSERT_OK(ubj);
  EXPECT_EQ(ubj->format, Format::kXgboostUbj);
  EXPECT_TRUE(ubj->clean()) << Describe(*ubj);
}

TEST(XgboostScanner, TruncatedModelsCannotBeScanned) {
  for (const char* name : {"xgb_classifier.json", "xgb_classifier.ubj"}) {
    std::string model = testing::ReadExample(name);
    EXPECT_FALSE(ScanBytes(Span(model.substr(0, model.size() / 2))).ok()) << name;
  }
}

TEST(XgboostScanner, JsonShape) {
  auto no_learner = ScanBytes(Span(R"({"version": [1, 7, 4]})"s));
  ASSERT_FALSE(no_learner.ok());
  EXPECT_NE(no_learner.status().message().find("learner"), std::string::npos);
  auto no_version = ScanBytes(Span(R"({"learner": {}})"s));
  ASSERT_OK(no_version);
  EXPECT_TRUE(HasFinding(*no_version, "without a valid version"));
  auto empty_learner = ScanBytes(Span(R"(  {"learner": {}, "version": [1, 7, 4]})"s));
  ASSERT_TRUE(empty_learner.ok());
  EXPECT_TRUE(HasFinding(*empty_learner, "XGBoost model: missing")) << Describe(*empty_learner);
  EXPECT_EQ(empty_learner->findings.front().location, "learner.learner_model_param");
  std::string deep = R"({"learner": )" + std::string(100, '[') + std::string(100, ']') + "}";
  auto too_deep = ScanBytes(Span(deep));
  ASSERT_FALSE(too_deep.ok());
  EXPECT_NE(too_deep.status().message().find("deeper than 64"), std::string::npos) << too_deep.status().message();
}

TEST(XgboostScanner, UbjShape) {
  // {"learner": {}, "version": [#i3 i1 i7 i4]}
  std::string ok = "{L\0\0\0\0\0\0\0\x07learner{}L\0\0\0\0\0\0\0\x07version[#i\x03i\x01i\x07i\x04}"s;
  auto report = ScanBytes(Span(ok));
  ASSERT_OK(report);
  EXPECT_EQ(report->format, Format::kXgboostUbj);
  ASSERT_EQ(report->findings.size(), 1u) << Describe(*report);  // readable; the structure is incomplete
  EXPECT_EQ(report->findings.front().location, "learner.learner_model_param");
  EXPECT_FALSE(ScanBytes(Span("{i\x07learnerS"s)).ok());  // truncated
  EXPECT_FALSE(ScanBytes(Span("{i\x07learner{}}trailing"s)).ok());
}

TEST(Ubjson, CountsAndLengthsStayInsideTheBuffer) {
  using internal::ValidateUbj;
  auto check = [](const std::string& s) { return ValidateUbj(Span(s), 64).ok(); };
  EXPECT_TRUE(check("[$d#i\x02\0\0\0\0\0\0\0\0"s));
  EXPECT_FALSE(check("[$d#L\x7f\xff\xff\xff\xff\xff\xff\xff"s));  // 8 * count overflows
  EXPECT_FALSE(check("[#L\0\0\0\0\xff\xff\xff\xff"s));            // count above the bytes left
  EXPECT_FALSE(check("[$Z#L\x7f\xff\xff\xff\xff\xff\xff\xff"s));  // a billion nulls in no bytes
  EXPECT_FALSE(check("Si\xff"s));                                 // negative length
  EXPECT_FALSE(check("SL\0\0\0\0\0\0\x10\0abc"s));                // length past the end
  EXPECT_FALSE(check("[$[#i\x01]"s));                             // container element type
  EXPECT_FALSE(check(std::string(100, '[') + std::string(100, ']')));
  EXPECT_TRUE(check(std::string(64, '[') + std::string(64, ']')));
  EXPECT_FALSE(
      check("{i\x01"
            "a"s));
  EXPECT_TRUE(
      check("{$i#i\x02i\x01"
            "a\x01i\x01"
            "b\x02"s));  // typed object
}

// ---------------------------------------------------------------- structure

using nlohmann::json;

json Example() { return json::parse(testing::ReadExample("xgb_classifier.json")); }
json& Tree(json& model, size_t i) { return model["learner"]["gradient_booster"]["model"]["trees"][i]; }

// UBJ as libxgboost 1.7 writes it: objects uncounted with 'L' key lengths, numeric
// arrays typed ($l / $L / $d) and counted, other arrays counted.
void WriteUbj(const json& v, std::string& out) {
  auto big_endian = [&](uint64_t x, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) out += static_cast<char>((x >> (8 * i)) & 0xFF);
  };
  auto length = [&](uint64_t n) {
    out += 'L';
    big_endian(n, 8);
  };
  auto float32 = [&](double d) { big_endian(std::bit_cast<uint32_t>(static_cast<float>(d)), 4); };
  switch (v.type()) {
    case json::value_t::object:
      out += '{';
      for (const auto& [key, value] : v.items()) {
        length(key.size());
        out += key;
        WriteUbj(value, out);
      }
      out += '}';
      return;
    case json::value_t::array: {
      bool ints = !v.empty(), numbers = !v.empty(), small = true;
      for (const json& e : v) {
        ints = ints && e.is_number_integer();
        numbers = numbers && e.is_number();
        if (e.is_number_integer()) small = small && e.get<int64_t>() >= INT32_MIN && e.get<int64_t>() <= INT32_MAX;
      }
      if (numbers) {
        out += ints ? (small ? "[$l#" : "[$L#") : "[$d#";
        length(v.size());
        for (const json& e : v) {
          if (!ints) {
            float32(e.get<double>());
          } else {
            big_endian(static_cast<uint64_t>(e.get<int64_t>()), small ? 4 : 8);
          }
        }
        return;
      }
      out += "[#";
      length(v.size());
      for (const json& e : v) WriteUbj(e, out);
      return;
    }
    case json::value_t::string:
      out += 'S';
      length(v.get<std::string>().size());
      out += v.get<std::string>();
      return;
    case json::value_t::boolean:
      out += v.get<bool>() ? 'T' : 'F';
      return;
    case json::value_t::number_float:
      out += 'd';
      float32(v.get<double>());
      return;
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      out += 'L';
      big_endian(static_cast<uint64_t>(v.get<int64_t>()), 8);
      return;
    default:
      out += 'Z';
  }
}

// Scans `model` as JSON and as UBJ.
std::vector<ScanReport> ScanBoth(const json& model) {
  std::vector<ScanReport> out;
  std::string text = model.dump();
  std::string ubj;
  WriteUbj(model, ubj);
  for (std::span<const uint8_t> bytes : {Span(text), Span(ubj)}) {
    auto report = ScanBytes(bytes);
    EXPECT_TRUE(report.ok()) << report.status().message();
    out.push_back(report.ok() ? *report : ScanReport{});
  }
  EXPECT_EQ(out[0].format, Format::kXgboostJson);
  EXPECT_EQ(out[1].format, Format::kXgboostUbj);
  return out;
}

void ExpectRefused(const json& model, const std::string& reason, Severity severity, const std::string& location = "") {
  for (const ScanReport& report : ScanBoth(model)) {
    bool found = false;
    for (const Finding& f : report.findings) {
      if (f.reason.find(reason) == std::string::npos) continue;
      found = true;
      EXPECT_EQ(f.severity, severity) << Describe(report);
      if (!location.empty()) {
        EXPECT_EQ(f.location, location);
      }
    }
    EXPECT_TRUE(found) << "expected '" << reason << "'\n" << Describe(report);
  }
}

TEST(XgboostStructure, ExamplesRoundTripCleanThroughBothEncodings) {
  for (const ScanReport& report : ScanBoth(Example())) EXPECT_TRUE(report.clean()) << Describe(report);
}

TEST(XgboostStructure, ChildIndexes) {
  json model = Example();
  Tree(model, 3)["left_children"][1] = 99;
  ExpectRefused(model, "child index 99 is outside the tree's", Severity::kCritical,
                "learner.gradient_booster.model.trees[3] node 1");
  model = Example();
  Tree(model, 0)["right_children"][0] = -5;  // the engine's walk would never end
  ExpectRefused(model, "child index -5 is outside", Severity::kCritical);
  model = Example();
  json& tree = Tree(model, 0);
  tree["right_children"][0] = tree["left_children"][0];  // both children the same node
  ExpectRefused(model, "reached twice from the root", Severity::kCritical);
  model = Example();
  Tree(model, 0)["left_children"][3] = 1;  // a leaf pointing back up: node 1's parent is 0
  ExpectRefused(model, "parent is 0, not 3", Severity::kCritical);
  model = Example();
  Tree(model, 0)["parents"][5] = 1000000;
  ExpectRefused(model, "parent index 1000000 is outside the tree", Severity::kCritical);
}

TEST(XgboostStructure, SplitFeaturesAndFeatureCount) {
  json model = Example();
  Tree(model, 7)["split_indices"][0] = 4;
  ExpectRefused(model, "splits on feature 4; the model has 4", Severity::kCritical);
  model = Example();
  model["learner"]["learner_model_param"]["num_feature"] = "134217728";  // 2^27 features took 9.6 GB
  ExpectRefused(model, "num_feature is 134217728 (allowed 1 to 1048576)", Severity::kHigh);
  model = Example();
  model["learner"]["learner_model_param"]["num_feature"] = "4x";
  ExpectRefused(model, "num_feature is not an integer", Severity::kHigh);
}

TEST(XgboostStructure, NodesEveryWalkReachesOnce) {
  json model = Example();
  json& tree = Tree(model, 0);
  // Node 1 becomes a leaf: its subtree is no longer reachable.
  std::vector<int64_t> orphans;
  std::function<void(int64_t)> collect = [&](int64_t n) {
    if (n == -1) return;
    orphans.push_back(n);
    collect(tree["left_children"][n]);
    collect(tree["right_children"][n]);
  };
  collect(tree["left_children"][1]);
  collect(tree["right_children"][1]);
  tree["left_children"][1] = -1;
  tree["right_children"][1] = -1;
  ExpectRefused(model, "not reachable from the root and not a deleted node", Severity::kHigh);
  // Marked as XGBoost marks nodes its pruner deleted, they are accepted.
  for (int64_t n : orphans) {
    tree["split_indices"][n] = 2147483647;
    tree["default_left"][n] = 1;
  }
  tree["tree_param"]["num_deleted"] = std::to_string(orphans.size());
  for (const ScanReport& report : ScanBoth(model)) EXPECT_TRUE(report.clean()) << Describe(report);
  tree["tree_param"]["num_deleted"] = "0";
  ExpectRefused(model, "num_deleted is 0 but", Severity::kHigh);
}

TEST(XgboostStructure, ArraysAndCounts) {
  json model = Example();
  Tree(model, 2)["split_conditions"].erase(0);
  ExpectRefused(model, "split_conditions must hold one number per node", Severity::kCritical);
  model = Example();
  Tree(model, 2)["tree_param"]["num_nodes"] = "1000";
  ExpectRefused(model, "left_children must hold one integer per node (num_nodes 1000)", Severity::kCritical);
  model = Example();
  model["learner"]["gradient_booster"]["model"]["gbtree_model_param"]["num_trees"] = "60";
  ExpectRefused(model, "num_trees is 60 but the model holds 51", Severity::kCritical);
  model = Example();
  model["learner"]["gradient_booster"]["model"]["gbtree_model_param"]["num_trees"] = "100000000";
  ExpectRefused(model, "100000000 trees cannot fit in a file of", Severity::kHigh);
  model = Example();
  model["learner"]["gradient_booster"]["model"]["tree_info"][4] = 3;  // 3 classes: groups 0..2
  ExpectRefused(model, "tree 4 writes to output group 3 of 3", Severity::kCritical);
  model = Example();
  Tree(model, 9)["id"] = 8;
  ExpectRefused(model, "tree ids must be distinct indexes below num_trees", Severity::kCritical);
  model = Example();
  model["learner"]["feature_names"] = json::array({"a", "b"});
  ExpectRefused(model, "feature_names must be empty or name every feature", Severity::kHigh);
}

TEST(XgboostStructure, CategoricalSplits) {
  json model = Example();
  json& tree = Tree(model, 0);
  tree["split_type"][0] = 1;
  tree["categories_nodes"] = json::array({0});
  tree["categories_segments"] = json::array({0});
  tree["categories_sizes"] = json::array({2});
  tree["categories"] = json::array({1, 3});
  for (const ScanReport& report : ScanBoth(model)) EXPECT_TRUE(report.clean()) << Describe(report);
  tree["categories"] = json::array({1, 2147483647});  // a 256 MiB bitfield for one node
  ExpectRefused(model, "category 2147483647 is outside [0, 2^24)", Severity::kCritical);
  tree["categories"] = json::array({1});
  ExpectRefused(model, "categories segment outside the categories array", Severity::kCritical);
  tree["categories"] = json::array({1, 3});
  tree["categories_nodes"] = json::array({2});
  ExpectRefused(model, "categorical split tables disagree with split_type", Severity::kCritical);
}

TEST(XgboostStructure, BoostersAndDuplicateKeys) {
  json model = Example();
  model["learner"]["gradient_booster"]["name"] = "mystery";
  ExpectRefused(model, "unknown XGBoost booster 'mystery'", Severity::kHigh);
  json linear = Example();
  linear["learner"]["gradient_booster"] = {{"name", "gblinear"}, {"model", {{"weights", json::array()}}}};
  for (int i = 0; i < 15; ++i) linear["learner"]["gradient_booster"]["model"]["weights"].push_back(0.5);
  for (const ScanReport& report : ScanBoth(linear)) EXPECT_TRUE(report.clean()) << Describe(report);
  linear["learner"]["gradient_booster"]["model"]["weights"].erase(0);
  ExpectRefused(linear, "gblinear weights must hold (num_feature + 1) x groups = 15 numbers", Severity::kCritical);
  // A second copy of a tree's children: the scanner and the engine could read different ones.
  std::string text = Example().dump();
  size_t at = text.find("\"left_children\"");
  ASSERT_NE(at, std::string::npos);
  text.insert(at, R"("left_children":[1,99,5,-1,7,9,-1,-1,-1,-1,-1],)");
  auto report = ScanBytes(Span(text));
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(HasFinding(*report, "duplicate key 'left_children'")) << Describe(*report);
}

}  // namespace
}  // namespace aegis::scan
