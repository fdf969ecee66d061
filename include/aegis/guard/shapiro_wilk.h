// Shapiro-Wilk W: how close a sample is to a normal distribution (1 = exactly
// on the normal's order statistics, small = far from normal). The extraction
// detector (extraction_detector.h) tests its query distances with it, as PRADA
// does (Juuti et al., EuroS&P 2019).
//
// The coefficients are Royston's approximation (Royston 1992, "Approximating
// the Shapiro-Wilk W-test for non-normality", and algorithm AS R94, 1995), the
// one R's shapiro.test and scipy.stats.shapiro use; only W is computed (the
// detector compares W with a threshold, not a p-value). Statistics, not crypto.
//
// Example:
//   ShapiroWilkCoefficients a(n);   // once per sample size
//   std::sort(x.begin(), x.end());
//   std::optional<double> w = a.W(x);
//
// Thread-safety: ShapiroWilkCoefficients is immutable once built.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

namespace aegis::guard {

inline constexpr size_t kShapiroWilkMinN = 3;
inline constexpr size_t kShapiroWilkMaxN = 5000;  // where Royston's approximation is valid

// The inverse of the standard normal CDF for 0 < p < 1 (Acklam's rational
// approximation refined by Halley steps: about 1e-15 relative error).
double InverseNormalCdf(double p);

class ShapiroWilkCoefficients {
 public:
  // n must be in [kShapiroWilkMinN, kShapiroWilkMaxN].
  explicit ShapiroWilkCoefficients(size_t n);
  size_t n() const { return a_.size(); }

  // W of `sorted` (ascending, exactly n() finite values). nullopt when the
  // sample has no spread (every value equal): W is not defined then.
  std::optional<double> W(std::span<const double> sorted) const;

 private:
  std::vector<double> a_;  // antisymmetric: a_[n-1-i] == -a_[i]
};

// W of `values` (any order, finite, n within the bounds above); nullopt when
// n is out of bounds or every value is equal.
std::optional<double> ShapiroWilkW(std::span<const double> values);

}  // namespace aegis::guard
