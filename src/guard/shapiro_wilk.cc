#include "aegis/guard/shapiro_wilk.h"

#include <algorithm>
#include <cmath>

namespace aegis::guard {
namespace {

// Royston's polynomials for the two largest coefficients, in u = 1/sqrt(n).
constexpr double kC1[] = {0.0, 0.221157, -0.147981, -2.071190, 4.434685, -2.706056};
constexpr double kC2[] = {0.0, 0.042981, -0.293762, -1.752461, 5.682633, -3.582633};

double Poly(std::span<const double> c, double x) {
  double r = 0;
  for (size_t i = c.size(); i-- > 0;) r = r * x + c[i];
  return r;
}

double AcklamGuess(double p) {
  constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,  -2.759285104469687e+02,
                          1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01,
                          -1.328068155288572e+01};
  constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                          -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00};
  constexpr double kLow = 0.02425;
  if (p < kLow || p > 1 - kLow) {
    const double q = std::sqrt(-2 * std::log(p < kLow ? p : 1 - p));
    const double x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
                     ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    return p < kLow ? x : -x;
  }
  const double q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

}  // namespace

double InverseNormalCdf(double p) {
  if (!(p > 0 && p < 1)) return std::nan("");
  double x = AcklamGuess(p);
  // Halley steps on Phi(x) - p, with Phi from erfc (accurate in both tails).
  for (int i = 0; i < 2; ++i) {
    const double e = 0.5 * std::erfc(-x / std::sqrt(2.0)) - p;
    const double u = e * std::sqrt(2 * M_PI) * std::exp(x * x / 2);
    x = x - u / (1 + x * u / 2);
  }
  return x;
}

ShapiroWilkCoefficients::ShapiroWilkCoefficients(size_t n) : a_(n, 0.0) {
  const double an = static_cast<double>(n);
  if (n == 3) {
    a_[0] = -std::sqrt(0.5);
    a_[2] = std::sqrt(0.5);
    return;
  }
  // m_i: the expected normal order statistics, Blom's approximation.
  std::vector<double> m(n);
  double summ2 = 0;
  for (size_t i = 0; i < n; ++i) {
    m[i] = InverseNormalCdf((static_cast<double>(i + 1) - 0.375) / (an + 0.25));
    summ2 += m[i] * m[i];
  }
  const double ssumm2 = std::sqrt(summ2);
  const double rsn = 1 / std::sqrt(an);
  const double a1 = m[n - 1] / ssumm2 + Poly(kC1, rsn);
  size_t first = 1;  // the coefficients below `first` (and their mirrors) are Royston's
  double fac = 0;
  if (n > 5) {
    const double a2 = m[n - 2] / ssumm2 + Poly(kC2, rsn);
    fac = std::sqrt((summ2 - 2 * m[n - 1] * m[n - 1] - 2 * m[n - 2] * m[n - 2]) / (1 - 2 * a1 * a1 - 2 * a2 * a2));
    a_[1] = -a2;
    a_[n - 2] = a2;
    first = 2;
  } else {
    fac = std::sqrt((summ2 - 2 * m[n - 1] * m[n - 1]) / (1 - 2 * a1 * a1));
  }
  a_[0] = -a1;
  a_[n - 1] = a1;
  for (size_t i = first; i < n - first; ++i) a_[i] = m[i] / fac;
}

std::optional<double> ShapiroWilkCoefficients::W(std::span<const double> sorted) const {
  if (sorted.size() != a_.size() || sorted.empty()) return std::nullopt;
  const double range = sorted.back() - sorted.front();
  if (!(range > 0)) return std::nullopt;
  // Centred and scaled by the range first, as AS R94 does, so large distances
  // cannot overflow the sums of squares.
  double mean = 0;
  for (double x : sorted) mean += (x - sorted.front()) / range;
  mean /= static_cast<double>(sorted.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < sorted.size(); ++i) {
    const double y = (sorted[i] - sorted.front()) / range;
    num += a_[i] * y;
    den += (y - mean) * (y - mean);
  }
  if (!(den > 0)) return std::nullopt;
  return std::min(1.0, num * num / den);
}

std::optional<double> ShapiroWilkW(std::span<const double> values) {
  if (values.size() < kShapiroWilkMinN || values.size() > kShapiroWilkMaxN) return std::nullopt;
  std::vector<double> sorted(values.begin(), values.end());
  std::sort(sorted.begin(), sorted.end());
  return ShapiroWilkCoefficients(sorted.size()).W(sorted);
}

}  // namespace aegis::guard
