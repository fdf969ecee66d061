#include "aegis/guard/baseline.h"

#include <cmath>
#include <cstring>
#include <random>

#include <gtest/gtest.h>

#include "aegis/guard/npy.h"

namespace aegis::guard {
namespace {

// rows x features of N(mean_f = f, 1) values.
SampleInput Normal(uint64_t rows, uint64_t features, uint32_t seed = 1) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0, 1);
  SampleInput s{"x", rows, features, {}};
  for (uint64_t r = 0; r < rows; ++r) {
    for (uint64_t f = 0; f < features; ++f) s.values.push_back(static_cast<float>(f) + normal(rng));
  }
  return s;
}

std::vector<uint8_t> Npy(std::string_view header, size_t data_bytes, uint8_t major = 1) {
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', major, 0};
  const size_t len = header.size();
  out.push_back(static_cast<uint8_t>(len & 0xff));
  out.push_back(static_cast<uint8_t>(len >> 8));
  if (major != 1) {
    out.push_back(0);
    out.push_back(0);
  }
  out.insert(out.end(), header.begin(), header.end());
  out.resize(out.size() + data_bytes, 0);
  return out;
}

TEST(BaselineTest, StatisticsOfKnownData) {
  SampleInput s{"in", 100, 2, {}};
  for (int r = 0; r < 100; ++r) {
    s.values.push_back(static_cast<float>(r));  // 0..99
    s.values.push_back(5.0f);                   // constant
  }
  s.values[2 * 7 + 1] = NAN;  // a NaN in the constant feature
  const std::vector<SampleInput> sample{s};
  auto b = ComputeBaseline(sample);
  ASSERT_TRUE(b.ok()) << b.status().message();
  const InputBaseline& in = b->inputs[0];
  EXPECT_EQ(in.min[0], 0);
  EXPECT_EQ(in.max[0], 99);
  EXPECT_NEAR(in.mean[0], 49.5, 1e-4);
  EXPECT_NEAR(in.stddev[0], std::sqrt((100.0 * 100 - 1) / 12), 1e-3);
  EXPECT_NEAR(in.deciles[0], 9.9, 1e-4);  // 10% quantile, interpolated
  EXPECT_NEAR(in.deciles[4], 49.5, 1e-4);
  EXPECT_EQ(in.nonfinite[0], 0);
  EXPECT_EQ(in.nonfinite[1], 1);
  EXPECT_EQ(in.stddev[1], 0);
  EXPECT_EQ(in.drift_features, (std::vector<uint32_t>{0, 1}));
  float total = 0;
  for (size_t k = 0; k < kPsiBins; ++k) total += in.drift_expected[k];
  EXPECT_NEAR(total, 1.0, 1e-5);
}

TEST(BaselineTest, RefusesBadSamples) {
  EXPECT_FALSE(ComputeBaseline(std::vector<SampleInput>{Normal(29, 3)}).ok());  // too few rows
  EXPECT_FALSE(ComputeBaseline(std::vector<SampleInput>{}).ok());
  SampleInput a = Normal(40, 3);
  SampleInput b = Normal(41, 3);
  b.name = "y";
  EXPECT_FALSE(ComputeBaseline(std::vector<SampleInput>{a, b}).ok());  // row counts differ
  EXPECT_FALSE(ComputeBaseline(std::vector<SampleInput>{a, a}).ok());  // same name twice
  SampleInput nan = Normal(40, 2);
  for (size_t r = 0; r < 40; ++r) nan.values[r * 2] = NAN;
  auto s = ComputeBaseline(std::vector<SampleInput>{nan});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("feature 0 has no finite value"), std::string::npos);
  SampleInput bad_name = Normal(40, 2);
  bad_name.name = "a b";
  EXPECT_FALSE(ComputeBaseline(std::vector<SampleInput>{bad_name}).ok());
}

TEST(BaselineTest, MultivariateScoreSeparatesOutliersOfCorrelatedData) {
  // Two strongly correlated features: (t, t + small noise). A point on the
  // diagonal is normal; one off it is an outlier though inside each range.
  std::mt19937 rng(3);
  std::normal_distribution<float> n(0, 1);
  SampleInput s{"x", 2000, 2, {}};
  for (int r = 0; r < 2000; ++r) {
    const float t = n(rng);
    s.values.push_back(t);
    s.values.push_back(t + 0.05f * n(rng));
  }
  auto b = ComputeBaseline(std::vector<SampleInput>{s});
  ASSERT_TRUE(b.ok());
  const MultivariateModel& m = b->inputs[0].multivariate;
  EXPECT_EQ(m.Components(), 2u);
  EXPECT_GT(m.threshold, 0);
  const float normal[] = {1.0f, 1.0f};
  const float odd[] = {1.0f, -1.0f};
  EXPECT_LT(MultivariateScore(m, normal), m.threshold);
  EXPECT_GT(MultivariateScore(m, odd), 5 * m.threshold);
}

TEST(BaselineTest, WideInputsAreReducedToBlockMeans) {
  auto b = ComputeBaseline(std::vector<SampleInput>{Normal(40, 1000)});
  ASSERT_TRUE(b.ok());
  const MultivariateModel& m = b->inputs[0].multivariate;
  EXPECT_EQ(m.block, 16u);
  EXPECT_EQ(m.dims, 63u);
  EXPECT_LE(m.Components(), kMaxComponents);
  EXPECT_EQ(b->inputs[0].drift_features.size(), kMaxDriftFeatures);
}

TEST(BaselineTest, SerializationRoundTripsAndRefusesCorruption) {
  auto b = ComputeBaseline(std::vector<SampleInput>{Normal(200, 12)});
  ASSERT_TRUE(b.ok());
  const std::vector<uint8_t> blob = SerializeBaseline(*b);
  auto again = ParseBaseline(blob);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(SerializeBaseline(*again), blob);
  EXPECT_EQ(again->rows, 200u);
  // Every truncation is refused, never read past the end.
  for (size_t n = 0; n < blob.size(); n += 7) {
    EXPECT_FALSE(ParseBaseline(std::span(blob.data(), n)).ok()) << n;
  }
  std::vector<uint8_t> longer = blob;
  longer.push_back(0);
  EXPECT_FALSE(ParseBaseline(longer).ok());
  // A NaN statistic (min of feature 0) is refused.
  std::vector<uint8_t> nan = blob;
  const size_t min_offset = 8 + 4 + 8 + 4 + 4 + 1 + 8;
  const float q = NAN;
  std::memcpy(&nan[min_offset], &q, 4);
  EXPECT_EQ(ParseBaseline(nan).status().code(), StatusCode::kDataLoss);
  // A huge feature count is refused before anything is allocated.
  std::vector<uint8_t> huge = blob;
  const uint64_t features = uint64_t{1} << 40;
  std::memcpy(&huge[min_offset - 8], &features, 8);
  EXPECT_FALSE(ParseBaseline(huge).ok());
}

TEST(NpyTest, ParsesFloatAndIntegerArrays) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (30, 2), }";
  header.resize(118, ' ');
  header += '\n';
  auto npy = Npy(header, size_t{30} * 2 * 4);
  const float v = 1.5f;
  std::memcpy(&npy[npy.size() - 4], &v, 4);
  auto s = ParseNpy(npy, "x");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->rows, 30u);
  EXPECT_EQ(s->features, 2u);
  EXPECT_EQ(s->values.back(), 1.5f);

  auto ints =
      ParseNpy(Npy("{'shape': (40, 2, 3), 'fortran_order': False, 'descr': '<i8'}\n", size_t{40} * 6 * 8, 2), "x");
  ASSERT_TRUE(ints.ok()) << ints.status().message();
  EXPECT_EQ(ints->features, 6u);
  EXPECT_TRUE(ParseNpy(Npy("{'descr': '|u1', 'fortran_order': False, 'shape': (30, 4)}", 120), "x").ok());
}

TEST(NpyTest, RefusesHostileFiles) {
  const std::pair<std::vector<uint8_t>, std::string> cases[] = {
      {{'N', 'U', 'M', 'P', 'Y'}, "magic"},
      {Npy("{'descr': '<f4', 'fortran_order': True, 'shape': (30, 2)}", 240), "Fortran"},
      {Npy("{'descr': '|O', 'fortran_order': False, 'shape': (30, 2)}", 240), "not supported"},
      {Npy("{'descr': '>f4', 'fortran_order': False, 'shape': (30, 2)}", 240), "not supported"},
      {Npy("{'descr': '<c8', 'fortran_order': False, 'shape': (30, 2)}", 480), "not supported"},
      {Npy("{'descr': '|b1', 'fortran_order': False, 'shape': (30, 2)}", 60), "not supported"},
      {Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (30, 2)}", 239), "truncated"},
      {Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (30, 2)}", 241), "after the data"},
      {Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (60,)}", 240), "2 dimensions"},
      {Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (10, 2)}", 80), "rows"},
      {Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (30, 999999999999999999)}", 0), "features"},
      {Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999, 99999, 99999)}", 0), "features"},
      {Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (30, 2), 'x': 1}", 240), "unexpected"},
      {Npy("{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (30, 2)}", 240), "unexpected"},
      {Npy("{'descr': '<f4', 'fortran_order': False}", 240), "lacks"},
      {Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (30, -2)}", 240), "shape"},
      {Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (30, 2)} junk", 240), "after the header"},
      {Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (30, 2)\x01}", 240), "printable"},
      {Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (30, 2)}", 240, 9), "version"},
  };
  for (const auto& [bytes, want] : cases) {
    auto s = ParseNpy(bytes, "x");
    ASSERT_FALSE(s.ok()) << want;
    EXPECT_NE(s.status().message().find(want), std::string::npos) << s.status().message();
  }
  // A header length past the end of the file.
  std::vector<uint8_t> short_header = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0xff, 0x00, '{'};
  EXPECT_FALSE(ParseNpy(short_header, "x").ok());
}

}  // namespace
}  // namespace aegis::guard
