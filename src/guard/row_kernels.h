// The hot loops of screening a row (internal to the guard module), written
// with GCC/Clang vector extensions so that they are vectorised whatever the
// optimisation level (-O2's cost model leaves the plain loops scalar).
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>

#include "aegis/guard/baseline.h"

namespace aegis::guard::internal {

// One pass over x[0..n): whether any value lies outside [lo[i], hi[i]] or is
// NaN; and, when `sum` is not null, the sum of the values into *sum.
bool CheckAndSum(const float* x, const float* lo, const float* hi, size_t n, float* sum);

// The sum of x[0..n).
float Sum(const float* x, size_t n);

// The multivariate score of a row given its block sums (`model.dims` of them;
// the last block may be shorter, `features` says how long the row is).
float ScoreOfBlockSums(const MultivariateModel& model, const float* sums, uint64_t features);

}  // namespace aegis::guard::internal
