#include "xgboost_format.h"

#include <string>

#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"
#include "runtime_test_util.h"

namespace aegis::runtime {
namespace {

StatusOr<XgboostModelFormat> Check(const std::string& text) {
  return CheckXgboostModelFormat(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

TEST(XgboostFormatTest, RecognizesTheExamples) {
  StatusOr<XgboostModelFormat> json = CheckXgboostModelFormat(testing::ReadExampleBytes("xgb_classifier.json"));
  ASSERT_OK(json);
  EXPECT_EQ(*json, XgboostModelFormat::kJson);
  StatusOr<XgboostModelFormat> ubj = CheckXgboostModelFormat(testing::ReadExampleBytes("xgb_classifier.ubj"));
  ASSERT_OK(ubj);
  EXPECT_EQ(*ubj, XgboostModelFormat::kUbj);
}

TEST(XgboostFormatTest, RefusesOtherFormats) {
  for (const std::string& text : {std::string(""), std::string("{"), std::string("binf\x01\x02"), std::string("[1,2]"),
                                  std::string("{1}"), std::string(" {\"a\":1}")}) {
    StatusOr<XgboostModelFormat> result = Check(text);
    EXPECT_STATUS_IS(result, StatusCode::kUnprocessable) << text;
    EXPECT_EQ(result.status().message(), "only XGBoost JSON or UBJ models are accepted") << text;
  }
}

TEST(XgboostFormatTest, BoundsNesting) {
  std::string deep_json = "{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_STATUS_IS(Check(deep_json), StatusCode::kUnprocessable);
  std::string brackets_in_strings = "{\"a\":\"" + std::string(1000, '[') + "\"}";
  EXPECT_OK(Check(brackets_in_strings));
  // UBJ: {"a": [[[[...]]]]} with keys as 'U' length + bytes.
  std::string deep_ubj =
      "{U\x01"
      "a" +
      std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_STATUS_IS(Check(deep_ubj), StatusCode::kUnprocessable);
  std::string shallow_ubj =
      "{U\x01"
      "a[$d#U\x02" +
      std::string(8, '\0') +
      "U\x01"
      "bSU\x02hi}";
  EXPECT_OK(Check(shallow_ubj));
}

TEST(XgboostFormatTest, UbjWalkerSurvivesTruncationsAndFlips) {
  std::vector<uint8_t> model = testing::ReadExampleBytes("xgb_classifier.ubj");
  // Every prefix near either end, where the headers and the closing markers are,
  // and every 97th in between: each check walks its whole prefix, so all of them
  // would be quadratic (minutes under ASan), and aegis_xgboost_format_fuzz covers
  // the rest in `make fuzz`.
  constexpr size_t kEdge = 2048;
  for (size_t length = 0; length < model.size();
       length += (length < kEdge || length + kEdge >= model.size()) ? 1 : 97) {
    std::vector<uint8_t> prefix(model.data(), model.data() + length);
    EXPECT_FALSE(CheckXgboostModelFormat(prefix).ok()) << length;  // UBJ has no valid proper prefix
  }
  uint32_t state = 99;
  for (int round = 0; round < 3000; ++round) {
    std::vector<uint8_t> mutated = model;
    state = state * 1664525 + 1013904223;
    mutated[state % mutated.size()] = static_cast<uint8_t>(state >> 24);
    CheckXgboostModelFormat(mutated).IgnoreError();  // any answer, no crash
  }
}

}  // namespace
}  // namespace aegis::runtime
