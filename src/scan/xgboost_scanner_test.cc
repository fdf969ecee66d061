#include <gtest/gtest.h>

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
  EXPECT_TRUE(ScanBytes(Span(R"(  {"learner": {}, "version": [1, 7, 4]})"s))->clean());
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
  EXPECT_TRUE(report->clean()) << Describe(*report);
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

}  // namespace
}  // namespace aegis::scan
