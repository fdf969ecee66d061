// ComputeBaseline: the per-feature statistics and the multivariate score of a
// sample. See baseline.h.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <set>

#include "aegis/guard/baseline.h"
#include "row_kernels.h"

namespace aegis::guard {
namespace {

Status Refuse(const std::string& input, const std::string& what) {
  return Status::InvalidArgument("baseline input '" + input + "': " + what);
}

bool PrintableName(std::string_view name) {
  if (name.empty() || name.size() > kMaxInputNameBytes) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

// The q-quantile (0..1) of sorted `v`, linearly interpolated.
float Quantile(const std::vector<float>& v, double q) {
  const double pos = q * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  return static_cast<float>(v[lo] + (v[hi] - v[lo]) * frac);
}

// Statistics of feature f (finite values only).
Status FeatureStats(const SampleInput& s, uint64_t f, InputBaseline& b, std::vector<float>& column) {
  column.clear();
  bool nonfinite = false;
  for (uint64_t r = 0; r < s.rows; ++r) {
    const float v = s.values[r * s.features + f];
    if (std::isfinite(v)) {
      column.push_back(v);
    } else {
      nonfinite = true;
    }
  }
  if (column.empty()) return Refuse(s.name, "feature " + std::to_string(f) + " has no finite value");
  std::sort(column.begin(), column.end());
  double sum = 0;
  for (const float v : column) sum += v;
  const double mean = sum / static_cast<double>(column.size());
  double sq = 0;
  for (const float v : column) sq += (v - mean) * (v - mean);
  b.min[f] = column.front();
  b.max[f] = column.back();
  b.mean[f] = std::clamp(static_cast<float>(mean), column.front(), column.back());
  b.stddev[f] = static_cast<float>(std::sqrt(sq / static_cast<double>(column.size())));
  b.nonfinite[f] = nonfinite ? 1 : 0;
  for (size_t d = 0; d < kDeciles; ++d) {
    b.deciles[f * kDeciles + d] = Quantile(column, static_cast<double>(d + 1) / 10.0);
  }
  return Status::Ok();
}

// The PSI bin of `v` between the deciles of one feature: bin i holds values in
// (d[i-1], d[i]]; the first bin everything up to d[0], the last beyond d[8].
size_t Bin(const float* deciles, float v) {
  return static_cast<size_t>(std::lower_bound(deciles, deciles + kDeciles, v) - deciles);
}

void DriftExpectations(const SampleInput& s, InputBaseline& b) {
  const uint64_t n = std::min<uint64_t>(s.features, kMaxDriftFeatures);
  for (uint64_t i = 0; i < n; ++i) b.drift_features.push_back(static_cast<uint32_t>(i * s.features / n));
  b.drift_expected.assign(n * kPsiBins, 0.0f);
  for (uint64_t i = 0; i < n; ++i) {
    const uint32_t f = b.drift_features[i];
    uint64_t finite = 0;
    for (uint64_t r = 0; r < s.rows; ++r) {
      const float v = s.values[r * s.features + f];
      if (!std::isfinite(v)) continue;
      b.drift_expected[i * kPsiBins + Bin(&b.deciles[f * kDeciles], v)] += 1.0f;
      ++finite;
    }
    for (size_t k = 0; k < kPsiBins; ++k) b.drift_expected[i * kPsiBins + k] /= static_cast<float>(finite);
  }
}

// Row r of the sample reduced to block means; false if a value is not finite.
bool Reduce(const MultivariateModel& m, uint64_t features, const float* row, double* z) {
  for (uint32_t d = 0; d < m.dims; ++d) {
    const uint64_t begin = uint64_t{d} * m.block;
    const uint64_t end = std::min<uint64_t>(begin + m.block, features);
    double sum = 0;
    for (uint64_t i = begin; i < end; ++i) sum += row[i];
    if (!std::isfinite(sum)) return false;
    z[d] = sum / static_cast<double>(end - begin);
  }
  return true;
}

// Eigen-decomposition of the symmetric n x n matrix `a` (row-major) by cyclic
// Jacobi rotations: eigenvalues on return in `values`, eigenvectors as the
// columns of `vectors`. n <= kMaxReducedDims, so this is cheap.
void Jacobi(std::vector<double>& a, size_t n, std::vector<double>& values, std::vector<double>& vectors) {
  vectors.assign(n * n, 0.0);
  for (size_t i = 0; i < n; ++i) vectors[i * n + i] = 1.0;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    double diag = 0;
    for (size_t i = 0; i < n; ++i) {
      diag += a[i * n + i] * a[i * n + i];
      for (size_t j = i + 1; j < n; ++j) off += a[i * n + j] * a[i * n + j];
    }
    if (off <= 1e-22 * diag || off == 0) break;
    for (size_t p = 0; p < n; ++p) {
      for (size_t q = p + 1; q < n; ++q) {
        const double apq = a[p * n + q];
        if (apq == 0) continue;
        const double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1);
        const double s = t * c;
        for (size_t k = 0; k < n; ++k) {  // columns p, q
          const double akp = a[k * n + p];
          const double akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (size_t k = 0; k < n; ++k) {  // rows p, q
          const double apk = a[p * n + k];
          const double aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (size_t k = 0; k < n; ++k) {
          const double vkp = vectors[k * n + p];
          const double vkq = vectors[k * n + q];
          vectors[k * n + p] = c * vkp - s * vkq;
          vectors[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  values.resize(n);
  for (size_t i = 0; i < n; ++i) values[i] = a[i * n + i];
}

void Multivariate(const SampleInput& s, InputBaseline& b) {
  MultivariateModel& m = b.multivariate;
  const uint64_t dims_wanted = std::min<uint64_t>(s.features, kMaxReducedDims);
  m.block = static_cast<uint32_t>((s.features + dims_wanted - 1) / dims_wanted);
  m.dims = static_cast<uint32_t>((s.features + m.block - 1) / m.block);
  const size_t n = m.dims;
  // Reduced rows (an even spread of at most kMaxCovarianceRows).
  const uint64_t used = std::min(s.rows, kMaxCovarianceRows);
  std::vector<double> z;
  z.reserve(used * n);
  std::vector<double> row(n);
  for (uint64_t i = 0; i < used; ++i) {
    const uint64_t r = i * s.rows / used;
    if (Reduce(m, s.features, &s.values[r * s.features], row.data())) z.insert(z.end(), row.begin(), row.end());
  }
  const size_t count = z.size() / n;
  if (count < kMinRows) return;  // too few finite rows: no multivariate score
  std::vector<double> center(n, 0.0);
  for (size_t i = 0; i < count; ++i) {
    for (size_t d = 0; d < n; ++d) center[d] += z[i * n + d];
  }
  for (double& c : center) c /= static_cast<double>(count);
  std::vector<double> cov(n * n, 0.0);
  for (size_t i = 0; i < count; ++i) {
    for (size_t p = 0; p < n; ++p) {
      const double dp = z[i * n + p] - center[p];
      for (size_t q = p; q < n; ++q) cov[p * n + q] += dp * (z[i * n + q] - center[q]);
    }
  }
  for (size_t p = 0; p < n; ++p) {
    for (size_t q = p; q < n; ++q) cov[q * n + p] = cov[p * n + q] /= static_cast<double>(count);
  }
  std::vector<double> values;
  std::vector<double> vectors;
  Jacobi(cov, n, values, vectors);
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t x, size_t y) { return values[x] > values[y]; });
  const double largest = values[order[0]];
  if (!(largest > 0)) return;  // a constant input: the per-feature checks say everything
  // Directions with almost no variance in the sample would make any rounding
  // noise an outlier: only components with a real share of the variance count.
  m.center.assign(center.begin(), center.end());
  for (size_t k = 0; k < std::min(n, kMaxComponents); ++k) {
    const double lambda = values[order[k]];
    if (!(lambda > largest * 1e-6) || !(lambda > 1e-12)) break;
    const double scale = 1 / std::sqrt(lambda);
    for (size_t d = 0; d < n; ++d) m.whitening.push_back(static_cast<float>(vectors[d * n + order[k]] * scale));
  }
  if (m.whitening.empty()) {
    m.center.clear();
    return;
  }
  // The threshold: the 99.9th percentile of the sample's own scores (its
  // maximum for fewer than 1000 rows).
  std::vector<float> scores;
  scores.reserve(count);
  std::vector<float> frow(s.features);
  for (uint64_t i = 0; i < used; ++i) {
    const uint64_t r = i * s.rows / used;
    const float score = MultivariateScore(m, std::span(&s.values[r * s.features], s.features));
    if (std::isfinite(score)) scores.push_back(score);
  }
  std::sort(scores.begin(), scores.end());
  const float q = scores.empty() ? 0.0f : (scores.size() < 1000 ? scores.back() : Quantile(scores, 0.999));
  m.threshold = std::max(q, 1e-3f);
}

}  // namespace

const InputBaseline* Baseline::Find(std::string_view name) const {
  for (const auto& input : inputs) {
    if (input.name == name) return &input;
  }
  return nullptr;
}

float MultivariateScore(const MultivariateModel& m, std::span<const float> row) {
  if (m.Components() == 0) return 0.0f;
  float sums[kMaxReducedDims];
  for (uint32_t d = 0; d < m.dims; ++d) {
    const uint64_t begin = uint64_t{d} * m.block;
    const uint64_t end = std::min<uint64_t>(begin + m.block, row.size());
    sums[d] = internal::Sum(&row[begin], end - begin);
  }
  return internal::ScoreOfBlockSums(m, sums, row.size());
}

StatusOr<Baseline> ComputeBaseline(std::span<const SampleInput> sample) {
  if (sample.empty()) return Status::InvalidArgument("the baseline sample has no input");
  if (sample.size() > kMaxInputs) {
    return Status::InvalidArgument("the baseline sample has more than " + std::to_string(kMaxInputs) + " inputs");
  }
  Baseline out;
  out.rows = sample[0].rows;
  uint64_t values = 0;
  std::set<std::string, std::less<>> names;
  for (const SampleInput& s : sample) {
    if (!PrintableName(s.name))
      return Status::InvalidArgument("a baseline input name must be 1 to 256 printable characters");
    if (!names.insert(s.name).second) return Refuse(s.name, "given twice");
    if (s.rows != out.rows) return Refuse(s.name, "its row count differs from the other inputs'");
    if (s.rows < kMinRows || s.rows > kMaxRows) {
      return Refuse(s.name, "the sample must have " + std::to_string(kMinRows) + " to " + std::to_string(kMaxRows) +
                                " rows, not " + std::to_string(s.rows));
    }
    if (s.features == 0 || s.features > kMaxFeatures) {
      return Refuse(s.name, "rows must have 1 to " + std::to_string(kMaxFeatures) + " features");
    }
    if (s.values.size() != s.rows * s.features) return Refuse(s.name, "its data does not match rows x features");
    values += s.values.size();
    if (values > kMaxSampleValues) {
      return Status::InvalidArgument("the baseline sample is larger than " + std::to_string(kMaxSampleValues) +
                                     " values");
    }
  }
  std::vector<float> column;
  for (const SampleInput& s : sample) {
    InputBaseline b;
    b.name = s.name;
    b.features = s.features;
    b.min.resize(s.features);
    b.max.resize(s.features);
    b.mean.resize(s.features);
    b.stddev.resize(s.features);
    b.nonfinite.resize(s.features);
    b.deciles.resize(s.features * kDeciles);
    for (uint64_t f = 0; f < s.features; ++f) AEGIS_RETURN_IF_ERROR(FeatureStats(s, f, b, column));
    DriftExpectations(s, b);
    Multivariate(s, b);
    out.inputs.push_back(std::move(b));
  }
  return out;
}

}  // namespace aegis::guard
