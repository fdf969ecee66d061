#include "aegis/guard/output_policy.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "aegis/runtime/fp16.h"
#include "common/testing/status_matchers.h"
#include "output_policy_internal.h"

namespace aegis::guard {
namespace {

using runtime::DataType;
using Kind = OutputPolicy::Kind;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

OutputPolicy Policy(std::string_view text) {
  auto p = ParseOutputPolicy(text);
  EXPECT_TRUE(p.ok()) << text << ": " << p.status().message();
  return p.ok() ? *p : OutputPolicy{};
}

template <typename T>
runtime::Tensor Make(DataType type, std::vector<int64_t> shape, const std::vector<T>& values) {
  runtime::Tensor t{"scores", type, std::move(shape), {}};
  t.data.resize(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(t.data.data(), values.data(), t.data.size());
  return t;
}

runtime::Tensor Fp32(std::vector<int64_t> shape, const std::vector<float>& v) {
  return Make(DataType::kFp32, std::move(shape), v);
}

runtime::Tensor Fp16(std::vector<int64_t> shape, const std::vector<double>& v) {
  std::vector<uint16_t> halves;
  halves.reserve(v.size());
  for (const double d : v) halves.push_back(*runtime::DoubleToHalf(d));
  return Make(DataType::kFp16, std::move(shape), halves);
}

// A view of `t` (valid while `t` is).
runtime::TensorView View(const runtime::Tensor& t) { return {t.name, t.datatype, t.shape, t.data}; }

runtime::Tensor Apply(const OutputPolicy& policy, const runtime::Tensor& t, uint64_t max = UINT64_MAX) {
  auto out = ApplyOutputPolicy(policy, View(t), max);
  EXPECT_TRUE(out.ok()) << out.status().message();
  if (!out.ok() || !out->has_value()) {
    ADD_FAILURE() << "no transformed tensor";
    return t;
  }
  return **out;
}

// The BYTES elements of `t` as strings.
std::vector<std::string> Strings(const runtime::Tensor& t) {
  std::vector<std::string> out;
  for (size_t i = 0; i + 4 <= t.data.size();) {
    uint32_t len;
    std::memcpy(&len, t.data.data() + i, 4);
    out.emplace_back(reinterpret_cast<const char*>(t.data.data() + i + 4), len);
    i += 4 + len;
  }
  return out;
}

template <typename T>
std::vector<T> Values(const runtime::Tensor& t) {
  std::vector<T> out(t.data.size() / sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), t.data.data(), t.data.size());
  return out;
}

TEST(OutputPolicyTest, ParsesEveryAcceptedSpelling) {
  EXPECT_EQ(Policy("full"), (OutputPolicy{Kind::kFull, 0}));
  EXPECT_EQ(Policy("label"), (OutputPolicy{Kind::kLabel, 0}));
  EXPECT_EQ(Policy("top_k:1"), (OutputPolicy{Kind::kTopK, 1}));
  EXPECT_EQ(Policy("top_k:1000"), (OutputPolicy{Kind::kTopK, 1000}));
  EXPECT_EQ(Policy("round:0"), (OutputPolicy{Kind::kRound, 0}));
  EXPECT_EQ(Policy("round:6"), (OutputPolicy{Kind::kRound, 6}));
  for (const char* text : {"full", "label", "top_k:5", "round:3"}) EXPECT_EQ(OutputPolicyName(Policy(text)), text);
  EXPECT_TRUE(OutputPolicy{}.IsFull());
}

TEST(OutputPolicyTest, RefusesEverythingElse) {
  for (const char* text : {"",         "FULL",     "Full",      " full",      "full ",
                           "top_k",    "top_k:",   "top_k:0",   "top_k:1001", "top_k:-1",
                           "top_k:+3", "top_k:03", "top_k:3 ",  "top_k:1e2",  "top_k:99999999999999999999",
                           "top-k:3",  "topk:3",   "round",     "round:",     "round:7",
                           "round:-1", "round:00", "round:1.5", "label:1",    "labels",
                           "full:1",   "none",     "off"}) {
    auto p = ParseOutputPolicy(text);
    ASSERT_FALSE(p.ok()) << "accepted '" << text << "'";
    EXPECT_STATUS_IS(p, StatusCode::kInvalidArgument);
    EXPECT_NE(p.status().message().find("\"top_k:N\" (N from 1 to 1000)"), std::string::npos);
  }
}

TEST(OutputPolicyTest, FullAndNonFloatOutputsPassWithoutACopy) {
  const runtime::Tensor scores = Fp32({2}, {0.5f, 0.25f});
  auto full = ApplyOutputPolicy(Policy("full"), View(scores));
  ASSERT_OK(full);
  EXPECT_FALSE(full->has_value());
  const runtime::Tensor ints = Make<int64_t>(DataType::kInt64, {3}, {5, 9, 1});
  const runtime::Tensor bools = Make<uint8_t>(DataType::kBool, {2}, {0, 1});
  const runtime::Tensor bytes{"b", DataType::kBytes, {1}, {1, 0, 0, 0, 'x'}};
  for (const char* policy : {"top_k:1", "label", "round:0"}) {
    for (const auto& t : {ints, bools, bytes}) {
      auto out = ApplyOutputPolicy(Policy(policy), View(t));
      ASSERT_OK(out);
      EXPECT_FALSE(out->has_value()) << policy << " changed " << runtime::DataTypeName(t.datatype);
    }
  }
}

TEST(OutputPolicyTest, TopKKeepsTheHighestScoresOfEachRow) {
  const runtime::Tensor t = Fp32({2, 4}, {0.1f, 0.7f, 0.05f, 0.15f, 3.5f, -1.0f, 2.25f, 3.5f});
  const runtime::Tensor out = Apply(Policy("top_k:2"), t);
  EXPECT_EQ(out.name, "scores");
  EXPECT_EQ(out.datatype, DataType::kBytes);
  EXPECT_EQ(out.shape, (std::vector<int64_t>{2, 2}));
  // Ties (3.5 at 0 and 3) go to the lower index first.
  EXPECT_EQ(Strings(out), (std::vector<std::string>{"0.7:1", "0.15:3", "3.5:0", "3.5:3"}));
}

TEST(OutputPolicyTest, TopKScoresReadBackExactly) {
  const float third = 1.0f / 3.0f;
  const runtime::Tensor out = Apply(Policy("top_k:1"), Fp32({1}, {third}));
  ASSERT_EQ(Strings(out).size(), 1u);
  const std::string s = Strings(out)[0];
  EXPECT_EQ(std::stof(s.substr(0, s.find(':'))), third) << s;
  const runtime::Tensor d = Make<double>(DataType::kFp64, {2}, {0.1, 1.0 / 3.0});
  EXPECT_EQ(Strings(Apply(Policy("top_k:5"), d)), (std::vector<std::string>{"0.3333333333333333:1", "0.1:0"}));
}

TEST(OutputPolicyTest, TopKLargerThanTheRowKeepsTheWholeRowSorted) {
  const runtime::Tensor out = Apply(Policy("top_k:1000"), Fp32({1, 3}, {1.0f, 3.0f, 2.0f}));
  EXPECT_EQ(out.shape, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(Strings(out), (std::vector<std::string>{"3:1", "2:2", "1:0"}));
}

TEST(OutputPolicyTest, NaNRanksBelowEveryNumber) {
  const runtime::Tensor t = Make<double>(DataType::kFp64, {4}, {kNaN, -kInf, 2.0, kNaN});
  EXPECT_EQ(Strings(Apply(Policy("top_k:4"), t)), (std::vector<std::string>{"2:2", "-inf:1", "nan:0", "nan:3"}));
  EXPECT_EQ(Values<int64_t>(Apply(Policy("label"), t)), (std::vector<int64_t>{2}));
  const runtime::Tensor all_nan = Make<double>(DataType::kFp64, {2}, {kNaN, kNaN});
  EXPECT_EQ(Values<int64_t>(Apply(Policy("label"), all_nan)), (std::vector<int64_t>{0}));
}

TEST(OutputPolicyTest, ScalarIsOneRowOfOneElement) {
  const runtime::Tensor scalar = Fp32({}, {0.875f});
  const runtime::Tensor top = Apply(Policy("top_k:3"), scalar);
  EXPECT_EQ(top.shape, (std::vector<int64_t>{1}));
  EXPECT_EQ(Strings(top), (std::vector<std::string>{"0.875:0"}));
  const runtime::Tensor label = Apply(Policy("label"), scalar);
  EXPECT_EQ(label.shape, (std::vector<int64_t>{1}));
  EXPECT_EQ(Values<int64_t>(label), (std::vector<int64_t>{0}));
  const runtime::Tensor rounded = Apply(Policy("round:1"), scalar);
  EXPECT_TRUE(rounded.shape.empty());
  EXPECT_EQ(Values<float>(rounded), (std::vector<float>{0.9f}));
}

TEST(OutputPolicyTest, RankOneIsOneRow) {
  const runtime::Tensor t = Fp32({5}, {0.2f, 0.1f, 0.4f, 0.4f, 0.3f});
  EXPECT_EQ(Strings(Apply(Policy("top_k:2"), t)), (std::vector<std::string>{"0.4:2", "0.4:3"}));
  const runtime::Tensor label = Apply(Policy("label"), t);
  EXPECT_EQ(label.shape, (std::vector<int64_t>{1}));
  EXPECT_EQ(Values<int64_t>(label), (std::vector<int64_t>{2}));
}

TEST(OutputPolicyTest, LabelIsTheArgmaxOfEveryRow) {
  const runtime::Tensor t = Fp32({2, 2, 3}, {1, 2, 3, 9, 8, 7, -1, -1, -2, 0.0f, -0.0f, 0.0f});
  const runtime::Tensor out = Apply(Policy("label"), t);
  EXPECT_EQ(out.datatype, DataType::kInt64);
  EXPECT_EQ(out.shape, (std::vector<int64_t>{2, 2, 1}));
  EXPECT_EQ(Values<int64_t>(out), (std::vector<int64_t>{2, 0, 0, 0}));
}

TEST(OutputPolicyTest, EmptyRowsGiveNoResults) {
  const runtime::Tensor t = Fp32({3, 0}, {});
  const runtime::Tensor top = Apply(Policy("top_k:2"), t);
  EXPECT_EQ(top.shape, (std::vector<int64_t>{3, 0}));
  EXPECT_TRUE(top.data.empty());
  const runtime::Tensor label = Apply(Policy("label"), t);
  EXPECT_EQ(label.shape, (std::vector<int64_t>{3, 0}));
  EXPECT_TRUE(label.data.empty());
  EXPECT_EQ(Apply(Policy("top_k:2"), Fp32({0, 4}, {})).shape, (std::vector<int64_t>{0, 2}));
}

TEST(OutputPolicyTest, Fp16ScoresAreRankedAndPrintedAsTheirValues) {
  const runtime::Tensor t = Fp16({2, 3}, {0.1, 0.5, 0.25, -2.0, -1.0, 65504.0});
  EXPECT_EQ(Strings(Apply(Policy("top_k:2"), t)), (std::vector<std::string>{"0.5:1", "0.25:2", "65504:2", "-1:1"}));
  EXPECT_EQ(Values<int64_t>(Apply(Policy("label"), t)), (std::vector<int64_t>{1, 2}));
  const runtime::Tensor rounded = Apply(Policy("round:1"), t);
  EXPECT_EQ(rounded.datatype, DataType::kFp16);
  std::vector<float> got;
  for (const uint16_t h : Values<uint16_t>(rounded)) got.push_back(runtime::HalfToFloat(h));
  const auto half = [](double d) { return runtime::HalfToFloat(*runtime::DoubleToHalf(d)); };
  // 0.25 is exact in binary16: a tie, away from zero to 0.3.
  EXPECT_EQ(got, (std::vector<float>{half(0.1), half(0.5), half(0.3), -2.0f, -1.0f, 65504.0f}));
}

TEST(OutputPolicyTest, RoundIsHalfAwayFromZeroOnTheExactValue) {
  using internal::RoundDecimal;
  EXPECT_EQ(RoundDecimal(0.5, 0), 1.0);
  EXPECT_EQ(RoundDecimal(-0.5, 0), -1.0);
  EXPECT_EQ(RoundDecimal(2.5, 0), 3.0);
  EXPECT_EQ(RoundDecimal(0.125, 2), 0.13);
  EXPECT_EQ(RoundDecimal(-0.125, 2), -0.13);
  EXPECT_EQ(RoundDecimal(2.675, 2), 2.67);  // the double below 2.675
  EXPECT_EQ(RoundDecimal(1.0005, 3), 1.0);  // the double below 1.0005
  EXPECT_EQ(RoundDecimal(0.1234567, 6), 0.123457);
  EXPECT_EQ(RoundDecimal(123.456, 0), 123.0);
  EXPECT_TRUE(std::isnan(RoundDecimal(kNaN, 2)));
  EXPECT_EQ(RoundDecimal(kInf, 2), kInf);
  EXPECT_EQ(RoundDecimal(-kInf, 2), -kInf);
  EXPECT_EQ(RoundDecimal(1e300, 6), 1e300);
  EXPECT_TRUE(std::signbit(RoundDecimal(-0.001, 2)));
}

TEST(OutputPolicyTest, RoundKeepsDatatypeAndShape) {
  const runtime::Tensor t = Fp32({2, 3}, {0.123456f, -0.98765f, 2.5f, NAN, INFINITY, 7.0f});
  const runtime::Tensor out = Apply(Policy("round:2"), t);
  EXPECT_EQ(out.datatype, DataType::kFp32);
  EXPECT_EQ(out.shape, t.shape);
  const std::vector<float> v = Values<float>(out);
  EXPECT_EQ(v[0], 0.12f);
  EXPECT_EQ(v[1], -0.99f);
  EXPECT_EQ(v[2], 2.5f);
  EXPECT_TRUE(std::isnan(v[3]));
  EXPECT_EQ(v[4], INFINITY);
  EXPECT_EQ(v[5], 7.0f);
  const std::vector<double> d =
      Values<double>(Apply(Policy("round:0"), Make<double>(DataType::kFp64, {2}, {-1.5, 0.49})));
  EXPECT_EQ(d, (std::vector<double>{-2.0, 0.0}));
}

TEST(OutputPolicyTest, MalformedOutputIsInternalNotACrash) {
  runtime::Tensor short_data = Fp32({2, 3}, {1, 2, 3});
  auto out = ApplyOutputPolicy(Policy("top_k:1"), View(short_data));
  EXPECT_STATUS_IS(out, StatusCode::kInternal);
  runtime::Tensor negative = Fp32({-1, 3}, {1, 2, 3});
  EXPECT_STATUS_IS(ApplyOutputPolicy(Policy("label"), View(negative)), StatusCode::kInternal);
}

TEST(OutputPolicyTest, ResultOverTheLimitIsTooLarge) {
  const runtime::Tensor t = Fp32({100, 10}, std::vector<float>(1000, 0.5f));
  EXPECT_STATUS_IS(ApplyOutputPolicy(Policy("top_k:10"), View(t), 4096), StatusCode::kTooLarge);
  EXPECT_STATUS_IS(ApplyOutputPolicy(Policy("round:1"), View(t), 100), StatusCode::kTooLarge);
  EXPECT_OK(ApplyOutputPolicy(Policy("label"), View(t), 800));
}

TEST(OutputPolicyTest, HardenOutputsReplacesOnlyScoresInPlace) {
  const runtime::Tensor scores = Fp32({1, 3}, {0.2f, 0.5f, 0.3f});
  const runtime::Tensor ids = Make<int64_t>(DataType::kInt64, {2}, {4, 7});
  std::vector<runtime::TensorView> views = {View(scores), View(ids)};
  auto full = HardenOutputs(Policy("full"), views);
  ASSERT_OK(full);
  EXPECT_TRUE(full->empty());
  EXPECT_EQ(views[0].datatype, DataType::kFp32);

  auto hardened = HardenOutputs(Policy("label"), views);
  ASSERT_OK(hardened);
  const std::vector<runtime::Tensor> kept = std::move(hardened).value();  // views must survive this move
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(views[0].name, "scores");
  EXPECT_EQ(views[0].datatype, DataType::kInt64);
  EXPECT_EQ(views[0].shape, (std::vector<int64_t>{1, 1}));
  ASSERT_EQ(views[0].data.size(), 8u);
  int64_t label;
  std::memcpy(&label, views[0].data.data(), 8);
  EXPECT_EQ(label, 1);
  EXPECT_EQ(views[1].data.data(), ids.data.data());  // untouched, not copied
  EXPECT_STATUS_IS(HardenOutputs(Policy("round:1"), views = {View(scores)}, 4), StatusCode::kTooLarge);
}

TEST(OutputPolicyTest, MetadataDescribesWhatIsReturned) {
  const runtime::TensorSpec probs{"probs", DataType::kFp32, {-1, 10}};
  EXPECT_EQ(OutputSpecUnder(Policy("full"), probs).shape, probs.shape);
  EXPECT_EQ(OutputSpecUnder(Policy("round:2"), probs).datatype, DataType::kFp32);
  const runtime::TensorSpec top = OutputSpecUnder(Policy("top_k:3"), probs);
  EXPECT_EQ(top.datatype, DataType::kBytes);
  EXPECT_EQ(top.shape, (std::vector<int64_t>{-1, 3}));
  EXPECT_EQ(OutputSpecUnder(Policy("top_k:30"), probs).shape, (std::vector<int64_t>{-1, 10}));
  const runtime::TensorSpec label = OutputSpecUnder(Policy("label"), probs);
  EXPECT_EQ(label.datatype, DataType::kInt64);
  EXPECT_EQ(label.shape, (std::vector<int64_t>{-1, 1}));
  EXPECT_EQ(OutputSpecUnder(Policy("top_k:2"), {"v", DataType::kFp16, {-1, -1}}).shape, (std::vector<int64_t>{-1, -1}));
  const runtime::TensorSpec ids{"ids", DataType::kInt64, {-1, 10}};
  EXPECT_EQ(OutputSpecUnder(Policy("label"), ids).shape, ids.shape);
  const runtime::TensorSpec unknown_rank{"u", DataType::kFp32, {}, false};
  EXPECT_TRUE(OutputSpecUnder(Policy("label"), unknown_rank).shape.empty());
}

}  // namespace
}  // namespace aegis::guard
