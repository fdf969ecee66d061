#include "aegis/guard/screening.h"

#include <cmath>
#include <cstring>
#include <random>

#include <gtest/gtest.h>

namespace aegis::guard {
namespace {

// 12 features, feature f uniform in [f, f + 1].
Baseline UniformBaseline(uint64_t rows = 500) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(0, 1);
  SampleInput s{"x", rows, 12, {}};
  for (uint64_t r = 0; r < rows; ++r) {
    for (int f = 0; f < 12; ++f) s.values.push_back(static_cast<float>(f) + u(rng));
  }
  return *ComputeBaseline(std::vector<SampleInput>{s});
}

struct Request {
  std::vector<float> values;
  runtime::TensorView View() const {
    return {"x",
            runtime::DataType::kFp32,
            {static_cast<int64_t>(values.size() / 12), 12},
            std::span(reinterpret_cast<const uint8_t*>(values.data()), values.size() * 4)};
  }
};

Request Row(float delta = 0.5f) {
  Request r;
  for (int f = 0; f < 12; ++f) r.values.push_back(static_cast<float>(f) + delta);
  return r;
}

TEST(ScreeningTest, InDistributionRowsPass) {
  Screening screening;
  screening.Install("m", "1", UniformBaseline());
  auto v = screening.Find("m", "1");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(screening.Find("m", "2"), nullptr);
  const Request r = Row();
  const std::vector<runtime::TensorView> inputs{r.View()};
  EXPECT_FALSE(v->Screen(inputs).has_value());
}

TEST(ScreeningTest, OutOfRangeFeatureIsNamedWithItsExcess) {
  Screening screening;
  screening.Install("m", "1", UniformBaseline());
  auto v = screening.Find("m", "1");
  Request r = Row();
  r.values[3] = 10.0f;  // feature 3's range is about [3, 4], margin 0.1
  const std::vector<runtime::TensorView> inputs{r.View()};
  auto finding = v->Screen(inputs);
  ASSERT_TRUE(finding.has_value());
  EXPECT_EQ(finding->reason, ScreeningReason::kRange);
  EXPECT_EQ(finding->input, "x");
  EXPECT_EQ(finding->feature, 3);
  EXPECT_EQ(finding->value, 10.0f);
  EXPECT_NEAR(finding->bound, 4.1, 0.02);
  EXPECT_NEAR(finding->excess, 5.9, 0.02);
  EXPECT_NE(finding->Describe().find("input 'x' feature 3 (row 0): value 10 is above the baseline's range bound"),
            std::string::npos)
      << finding->Describe();
  // Just inside the margin passes.
  r.values[3] = 4.05f;
  EXPECT_FALSE(v->Screen(std::vector<runtime::TensorView>{r.View()}).has_value());
}

TEST(ScreeningTest, NonFiniteValuesAndSecondRows) {
  Screening screening;
  screening.Install("m", "1", UniformBaseline());
  auto v = screening.Find("m", "1");
  Request r = Row();
  const Request second = Row(0.25f);
  r.values.insert(r.values.end(), second.values.begin(), second.values.end());
  r.values[12 + 11] = NAN;
  auto finding = v->Screen(std::vector<runtime::TensorView>{r.View()});
  ASSERT_TRUE(finding.has_value());
  EXPECT_EQ(finding->reason, ScreeningReason::kNonFinite);
  EXPECT_EQ(finding->row, 1u);
  EXPECT_EQ(finding->feature, 11);
}

TEST(ScreeningTest, SettingsChangeTheBounds) {
  Screening screening({{"m", ScreeningSettings{ScreeningMode::kRefuse, 20.0, 2.0, 2.0}}});
  EXPECT_EQ(screening.SettingsFor("m").mode, ScreeningMode::kRefuse);
  EXPECT_EQ(screening.SettingsFor("other").mode, ScreeningMode::kFlag);
  screening.Install("m", "1", UniformBaseline());
  Request r = Row();
  r.values[3] = 5.0f;  // inside a margin of 2 ranges and 20 sigma
  EXPECT_FALSE(screening.Find("m", "1")->Screen(std::vector<runtime::TensorView>{r.View()}).has_value());
}

TEST(ScreeningTest, MultivariateScoreFlagsRowsInsideEveryRange) {
  // x1 = x0: each value alone is in range; together far off the diagonal.
  std::mt19937 rng(3);
  std::normal_distribution<float> n(0, 1);
  SampleInput s{"x", 2000, 2, {}};
  for (int r = 0; r < 2000; ++r) {
    const float t = n(rng);
    s.values.push_back(t);
    s.values.push_back(t + 0.01f * n(rng));
  }
  Screening screening;
  screening.Install("m", "1", *ComputeBaseline(std::vector<SampleInput>{s}));
  const float odd[] = {1.5f, -1.5f};
  const runtime::TensorView view{
      "x", runtime::DataType::kFp32, {1, 2}, std::span(reinterpret_cast<const uint8_t*>(odd), sizeof(odd))};
  auto finding = screening.Find("m", "1")->Screen(std::vector<runtime::TensorView>{view});
  ASSERT_TRUE(finding.has_value());
  EXPECT_EQ(finding->reason, ScreeningReason::kScore);
  EXPECT_EQ(finding->feature, -1);
}

TEST(ScreeningTest, OtherDatatypesAndShapes) {
  Screening screening;
  screening.Install("m", "1", UniformBaseline());
  auto v = screening.Find("m", "1");
  std::vector<double> doubles(12);
  for (size_t f = 0; f < 12; ++f) doubles[f] = static_cast<double>(f) + 0.5;
  doubles[0] = -100;
  const runtime::TensorView fp64{
      "x", runtime::DataType::kFp64, {1, 12}, std::span(reinterpret_cast<const uint8_t*>(doubles.data()), 96)};
  auto finding = v->Screen(std::vector<runtime::TensorView>{fp64});
  ASSERT_TRUE(finding.has_value());
  EXPECT_EQ(finding->feature, 0);
  const float five[5] = {};
  const runtime::TensorView odd_shape{
      "x", runtime::DataType::kFp32, {1, 5}, std::span(reinterpret_cast<const uint8_t*>(five), sizeof(five))};
  EXPECT_EQ(v->Screen(std::vector<runtime::TensorView>{odd_shape})->reason, ScreeningReason::kShape);
  // An input the baseline does not know is not screened.
  const runtime::TensorView other{
      "y", runtime::DataType::kFp32, {1, 5}, std::span(reinterpret_cast<const uint8_t*>(five), sizeof(five))};
  EXPECT_FALSE(v->Screen(std::vector<runtime::TensorView>{other}).has_value());
}

TEST(ScreeningTest, DriftIsLowInDistributionAndHighWhenShifted) {
  Screening screening;
  screening.Install("m", "1", UniformBaseline(5000));
  auto v = screening.Find("m", "1");
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(0, 1);
  EXPECT_TRUE(v->TopDrift().empty());
  for (int i = 0; i < 600; ++i) {
    Request r;
    for (int f = 0; f < 12; ++f) r.values.push_back(static_cast<float>(f) + u(rng));
    v->Screen(std::vector<runtime::TensorView>{r.View()});
  }
  auto drift = v->TopDrift();
  ASSERT_EQ(drift.size(), kDriftTopFeatures);
  EXPECT_LT(drift[0].psi, 0.1);
  // Feature 5 moves to the top of its range: a large PSI on that feature.
  for (int i = 0; i < 1000; ++i) {
    Request r;
    for (int f = 0; f < 12; ++f) r.values.push_back(static_cast<float>(f) + u(rng));
    r.values[5] = 5.95f + 0.04f * u(rng);
    v->Screen(std::vector<runtime::TensorView>{r.View()});
  }
  drift = v->TopDrift();
  ASSERT_FALSE(drift.empty());
  EXPECT_EQ(drift[0].feature, 5u);
  EXPECT_GT(drift[0].psi, 1.0);
  EXPECT_LT(drift[1].psi, 0.25);
}

TEST(ScreeningTest, CountsAndSignalsAreBounded) {
  Screening screening;
  screening.Install("m", "1", UniformBaseline());
  auto v = screening.Find("m", "1");
  v->Count(ScreeningReason::kRange);
  v->Count(ScreeningReason::kRange);
  auto counts = screening.Counts();
  ASSERT_EQ(counts.size(), 1u);
  EXPECT_EQ(counts[0].flagged[static_cast<size_t>(ScreeningReason::kRange)], 2u);
  EXPECT_TRUE(v->ShouldSignal("token:a", 10'000));
  EXPECT_FALSE(v->ShouldSignal("token:a", 10'500));
  EXPECT_TRUE(v->ShouldSignal("token:a", 11'001));
  // Replacing the baseline keeps the model's counters.
  screening.Install("m", "1", UniformBaseline());
  EXPECT_EQ(screening.Counts()[0].flagged[static_cast<size_t>(ScreeningReason::kRange)], 2u);
}

TEST(ScreeningTest, ParsesModes) {
  EXPECT_EQ(*ParseScreeningMode("refuse"), ScreeningMode::kRefuse);
  EXPECT_EQ(*ParseScreeningMode("off"), ScreeningMode::kOff);
  EXPECT_FALSE(ParseScreeningMode("Refuse").ok());
}

}  // namespace
}  // namespace aegis::guard
