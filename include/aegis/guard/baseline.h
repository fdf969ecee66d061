// Baseline: what a model version's inputs looked like in a sample its owner
// vouched for, frozen, so that live inputs can be screened against it (input
// screening, docs/threat-detection.md; SageMaker Model Monitor's "baseline
// statistics", MITRE ATLAS AML.M0015 adversarial input detection).
//
// ComputeBaseline reads a sample of rows (a KServe v2 request body with many
// rows, or a .npy array; see npy.h) and derives, per input and per feature
// (the elements of one row, flattened in C order): min, max, mean, standard
// deviation and deciles over the finite values, and whether any value was NaN
// or infinite; plus one multivariate score per input, a Mahalanobis distance in
// the space of at most kMaxComponents principal components of the row reduced
// to at most kMaxReducedDims block means, with a threshold taken from the
// sample's own scores. It is never updated from live traffic: traffic cannot
// poison it.
//
// Everything is bounded: rows (kMinRows..kMaxRows), features per input
// (kMaxFeatures), values in a sample (kMaxSampleValues), inputs (kMaxInputs).
// SerializeBaseline/ParseBaseline give the stored form; ParseBaseline checks
// every size and value, so a corrupted row in the store is refused, not used.
//
// Example:
//   auto baseline = ComputeBaseline(sample);            // control plane, once
//   std::vector<uint8_t> blob = SerializeBaseline(*baseline);
//   auto again = ParseBaseline(blob);                    // at start
//
// Thread-safety: value types and pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "aegis/common/status.h"
#include "aegis/runtime/tensor.h"

namespace aegis::guard {

inline constexpr uint64_t kMinRows = 30;
inline constexpr uint64_t kMaxRows = 100'000;
inline constexpr uint64_t kMaxFeatures = 1u << 18;       // 262,144: a 224x224x3 image fits
inline constexpr uint64_t kMaxSampleValues = 16u << 20;  // rows x features over all inputs
inline constexpr size_t kMaxInputs = 16;
inline constexpr size_t kMaxInputNameBytes = 256;
inline constexpr size_t kDeciles = 9;                   // the 10%..90% quantiles
inline constexpr size_t kPsiBins = kDeciles + 1;        // bins between the deciles
inline constexpr size_t kMaxReducedDims = 64;           // block means the score is computed on
inline constexpr size_t kMaxComponents = 16;            // principal components kept
inline constexpr size_t kMaxDriftFeatures = 64;         // features whose drift is tracked per input
inline constexpr uint64_t kMaxCovarianceRows = 20'000;  // rows the covariance is estimated from

// One input of a sample: `rows` rows of `features` values each, row-major.
struct SampleInput {
  std::string name;
  uint64_t rows = 0;
  uint64_t features = 0;
  std::vector<float> values;
};

// The frozen multivariate score of one input. A row x is reduced to z (block
// means of `block` consecutive features; the last block may be shorter); its
// score is |W (z - center)|, W's rows being principal axes divided by the
// square root of their variance: a Mahalanobis distance on those components.
struct MultivariateModel {
  uint32_t block = 1;
  uint32_t dims = 0;             // len(z) = ceil(features / block), <= kMaxReducedDims
  std::vector<float> center;     // dims
  std::vector<float> whitening;  // components x dims, row-major
  float threshold = 0;           // a high quantile of the sample's own scores (> 0)
  size_t Components() const { return dims == 0 ? 0 : whitening.size() / dims; }
};

struct InputBaseline {
  std::string name;
  uint64_t features = 0;
  std::vector<float> min, max, mean, stddev;  // per feature, over its finite values
  std::vector<float> deciles;                 // features x kDeciles, nondecreasing per feature
  std::vector<uint8_t> nonfinite;             // per feature: 1 if the sample had NaN or +-Inf there
  MultivariateModel multivariate;
  // Drift (PSI) is tracked on these features (all when there are at most
  // kMaxDriftFeatures, else evenly spread): their baseline share of rows in
  // each of the kPsiBins bins the deciles delimit.
  std::vector<uint32_t> drift_features;  // ascending
  std::vector<float> drift_expected;     // drift_features x kPsiBins, each row sums to ~1
};

struct Baseline {
  uint64_t rows = 0;
  std::vector<InputBaseline> inputs;
  const InputBaseline* Find(std::string_view name) const;
};

// The sample's statistics. InvalidArgument naming the input when the sample is
// too small or too large, inputs disagree on the row count, a name is repeated
// or not printable, or a feature has no finite value at all.
StatusOr<Baseline> ComputeBaseline(std::span<const SampleInput> sample);

// A tensor of a v2 request as one sample input: the first dimension is the
// rows, the rest the features. InvalidArgument for BYTES, BOOL and FP16 data,
// a rank below 2, or sizes over the limits.
StatusOr<SampleInput> SampleFromTensor(const runtime::TensorView& tensor);

// The score of one row (`features` values) under `model`; NaN when a value
// is not finite (the caller screens non-finite values itself).
float MultivariateScore(const MultivariateModel& model, std::span<const float> row);

std::vector<uint8_t> SerializeBaseline(const Baseline& baseline);
// DataLoss naming what is wrong when `bytes` is not a valid baseline.
StatusOr<Baseline> ParseBaseline(std::span<const uint8_t> bytes);

}  // namespace aegis::guard
