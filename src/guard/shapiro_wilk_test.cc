#include "aegis/guard/shapiro_wilk.h"

#include <cmath>
#include <functional>
#include <vector>

#include <gtest/gtest.h>

namespace aegis::guard {
namespace {

std::vector<double> Make(int n, const std::function<double(int)>& f) {
  std::vector<double> v;
  v.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v.push_back(f(i));
  return v;
}

TEST(InverseNormalCdf, MatchesKnownQuantiles) {
  EXPECT_NEAR(InverseNormalCdf(0.5), 0.0, 1e-15);
  EXPECT_NEAR(InverseNormalCdf(0.975), 1.959963984540054, 1e-12);  // scipy.stats.norm.ppf
  EXPECT_NEAR(InverseNormalCdf(1e-10), -6.361340902404056, 1e-9);
  EXPECT_NEAR(InverseNormalCdf(0.025), -InverseNormalCdf(0.975), 1e-12);
  EXPECT_TRUE(std::isnan(InverseNormalCdf(0.0)));
  EXPECT_TRUE(std::isnan(InverseNormalCdf(1.0)));
  EXPECT_TRUE(std::isnan(InverseNormalCdf(std::nan(""))));
}

// The expected values are scipy.stats.shapiro(x)[0] (scipy 1.10, Debian's
// python3-scipy) for the same x, computed by the same formulas in Python.
// scipy computes W in single precision, hence the tolerance.
TEST(ShapiroWilk, AgreesWithScipy) {
  struct Case {
    const char* name;
    std::vector<double> x;
    double w;
  };
  const std::vector<Case> cases = {
      {"n3", {1.0, 2.0, 4.0}, 0.9642857313156128},
      {"n5", {0.3, 1.1, 1.7, 2.0, 5.5}, 0.8450330495834351},
      {"n11", Make(11, [](int i) { return std::cos(i * i * 0.3) + 0.2 * i; }), 0.9063912630081177},
      {"n20", Make(20, [](int i) { return std::sin(i * 1.7) * 3 + i * 0.1; }), 0.9335406422615051},
      {"n50", Make(50, [](int i) { return std::exp(((i * 37) % 50) / 10.0); }), 0.7640653252601624},
      {"n200", Make(200, [](int i) { return std::sin(i * 0.37) + (i % 4 == 0 ? 4.0 : 0.0); }), 0.8411349654197693},
      {"n500", Make(500, [](int i) { return std::pow((i * 7919) % 500, 2) / 1000.0; }), 0.8948282599449158},
  };
  for (const auto& c : cases) {
    auto w = ShapiroWilkW(c.x);
    ASSERT_TRUE(w.has_value()) << c.name;
    EXPECT_NEAR(*w, c.w, 2e-5) << c.name;
  }
}

TEST(ShapiroWilk, NormalOrderStatisticsScoreNearOne) {
  std::vector<double> x;
  for (int i = 1; i <= 400; ++i) x.push_back(InverseNormalCdf((i - 0.375) / 400.25));
  EXPECT_GT(*ShapiroWilkW(x), 0.999);
}

TEST(ShapiroWilk, UndefinedWithoutSpreadOrOutOfBounds) {
  EXPECT_FALSE(ShapiroWilkW(std::vector<double>(50, 2.5)).has_value());
  EXPECT_FALSE(ShapiroWilkW(std::vector<double>{1.0, 2.0}).has_value());
  EXPECT_FALSE(ShapiroWilkW(std::vector<double>(kShapiroWilkMaxN + 1, 1.0)).has_value());
  // Scale does not matter, and huge values do not overflow.
  const std::vector<double> a = {0.3, 1.1, 1.7, 2.0, 5.5};
  std::vector<double> big;
  big.reserve(a.size());
  for (double v : a) big.push_back(v * 1e300);
  EXPECT_NEAR(*ShapiroWilkW(big), *ShapiroWilkW(a), 1e-12);
}

}  // namespace
}  // namespace aegis::guard
