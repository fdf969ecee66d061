// Row kernels: see row_kernels.h.
#include "row_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace aegis::guard::internal {
namespace {

// 16-byte vectors: SSE2 on every x86-64 (NEON on ARM), so no ABI question.
using V4 = float __attribute__((vector_size(16)));
using M4 = int32_t __attribute__((vector_size(16)));

V4 Load(const float* p) {
  V4 v;
  std::memcpy(&v, p, sizeof(v));  // unaligned load
  return v;
}

M4 Outside(V4 v, const float* lo, const float* hi) {
  // NaN compares false with everything: v != v catches it.
  return (v < Load(lo)) | (v > Load(hi)) | (v != v);
}

float Horizontal(V4 v) { return (v[0] + v[1]) + (v[2] + v[3]); }

}  // namespace

bool CheckAndSum(const float* x, const float* lo, const float* hi, size_t n, float* sum) {
  M4 bad = {};
  V4 acc0 = {};
  V4 acc1 = {};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const V4 a = Load(x + i);
    const V4 b = Load(x + i + 4);
    bad |= Outside(a, lo + i, hi + i) | Outside(b, lo + i + 4, hi + i + 4);
    acc0 += a;
    acc1 += b;
  }
  int32_t any = (bad[0] | bad[1]) | (bad[2] | bad[3]);
  float total = Horizontal(acc0 + acc1);
  for (; i < n; ++i) {
    any |= static_cast<int32_t>(!(x[i] >= lo[i] && x[i] <= hi[i]));
    total += x[i];
  }
  if (sum != nullptr) *sum = total;
  return any != 0;
}

float Sum(const float* x, size_t n) {
  V4 acc0 = {};
  V4 acc1 = {};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    acc0 += Load(x + i);
    acc1 += Load(x + i + 4);
  }
  float total = Horizontal(acc0 + acc1);
  for (; i < n; ++i) total += x[i];
  return total;
}

float ScoreOfBlockSums(const MultivariateModel& m, const float* sums, uint64_t features) {
  const size_t k = m.Components();
  if (k == 0) return 0.0f;
  float z[kMaxReducedDims];
  for (uint32_t d = 0; d < m.dims; ++d) {
    const uint64_t begin = uint64_t{d} * m.block;
    const uint64_t end = std::min<uint64_t>(begin + m.block, features);
    z[d] = sums[d] / static_cast<float>(end - begin) - m.center[d];
  }
  float total = 0;
  for (size_t c = 0; c < k; ++c) {
    const float* w = &m.whitening[c * m.dims];
    float p = 0;
    for (uint32_t d = 0; d < m.dims; ++d) p += w[d] * z[d];
    total += p * p;
  }
  return std::sqrt(total);
}

}  // namespace aegis::guard::internal
