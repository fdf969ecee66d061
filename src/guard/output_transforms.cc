// ApplyOutputPolicy: the top_k, label and round transforms. See output_policy.h.
//
// Each reads the engine's output once and builds a new tensor; the engine's
// bytes (possibly a worker's shared memory) are never written.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

#include "aegis/guard/output_policy.h"
#include "aegis/runtime/fp16.h"
#include "output_policy_internal.h"

namespace aegis::guard {
namespace internal {

double RoundDecimal(double v, int decimals) {
  static constexpr double kPow10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
  if (!std::isfinite(v)) return v;
  const double p = kPow10[decimals];
  // v * p exactly as hi + lo (lo is 0 for any float or half: 24 + 20 bits fit a double).
  const double hi = v * p;
  const double lo = std::fma(v, p, -hi);
  if (std::fabs(hi) >= 0x1p52) return v;  // spacing already >= about 10^-decimals
  double r = std::round(hi);              // half away from zero, on hi
  // hi - r is exact. Only at a tie of hi can lo change the answer: below 2^52
  // |hi - r| < 0.5 means at most 0.5 - ulp(hi), and |lo| <= ulp(hi) / 2.
  const double a = hi - r;
  if (a == -0.5 && lo < 0) r -= 1;  // hi = n + 0.5 rounded up, but v * p is just below it
  if (a == 0.5 && lo > 0) r += 1;   // the mirror image for negative values
  return r / p;                     // correctly rounded: the double nearest r / 10^decimals
}

}  // namespace internal
namespace {

using runtime::DataType;
using runtime::TensorView;

// The rows an output is read as: `count` elements of `width` each (a scalar is
// one row of one element), and the shape a per-row result of `kept` has.
struct Rows {
  uint64_t count = 0;
  uint64_t width = 0;
  std::vector<int64_t> Shape(const TensorView& t, uint64_t kept) const {
    std::vector<int64_t> shape = t.shape;
    if (shape.empty()) shape.push_back(1);
    shape.back() = static_cast<int64_t>(kept);
    return shape;
  }
};

StatusOr<Rows> CheckedRows(const TensorView& t) {
  const auto label = [&] { return "output '" + std::string(t.name.substr(0, 64)) + "'"; };
  const std::optional<uint64_t> n = t.ElementCount();
  const size_t size = runtime::DataTypeSize(t.datatype);
  if (!n || size == 0 || *n > t.data.size() / size || *n * size != t.data.size()) {
    return Status::Internal(label() + ": its data does not match its shape and datatype");
  }
  Rows rows;
  rows.width = t.shape.empty() ? 1 : static_cast<uint64_t>(t.shape.back());
  rows.count = rows.width == 0 ? 0 : *n / rows.width;
  return rows;
}

double ScoreAt(const TensorView& t, uint64_t i) {
  const uint8_t* p = t.data.data();
  switch (t.datatype) {
    case DataType::kFp16: {
      uint16_t h;
      std::memcpy(&h, p + i * 2, 2);
      return runtime::HalfToFloat(h);
    }
    case DataType::kFp32: {
      float f;
      std::memcpy(&f, p + i * 4, 4);
      return f;
    }
    default: {
      double d;
      std::memcpy(&d, p + i * 8, 8);
      return d;
    }
  }
}

// The ranking every policy shares: higher score first, NaN below everything,
// equal scores (+0 and -0 too) by lower index. A strict weak order.
bool Ranks(double a, uint64_t ia, double b, uint64_t ib) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) == std::isnan(b) ? ia < ib : std::isnan(b);
  if (a != b) return a > b;
  return ia < ib;
}

Status TooLarge(uint64_t max_bytes) {
  return Status::TooLarge("the output policy's result is larger than " + std::to_string(max_bytes) + " bytes");
}

// "<score>:<index>": the shortest score that reads back as the same value of the
// output's own type (FP16 scores are exact as floats).
size_t FormatClass(char* buf, size_t cap, const TensorView& t, double score, uint64_t index) {
  char* end = buf + cap;
  auto r = t.datatype == DataType::kFp64 ? std::to_chars(buf, end, score)
                                         : std::to_chars(buf, end, static_cast<float>(score));
  *r.ptr++ = ':';
  r = std::to_chars(r.ptr, end, index);
  return static_cast<size_t>(r.ptr - buf);
}

StatusOr<runtime::Tensor> TopK(const TensorView& t, const Rows& rows, uint64_t n, uint64_t max_bytes) {
  const uint64_t k = std::min(n, rows.width);
  // Each element is at least a 4-byte length and "s:i": refuse before allocating.
  if (rows.count * k > max_bytes / 7) return TooLarge(max_bytes);
  runtime::Tensor out{std::string(t.name), DataType::kBytes, rows.Shape(t, k), {}};
  out.data.reserve(static_cast<size_t>(std::min(rows.count * k * 16, max_bytes)));
  std::vector<double> scores(rows.width);
  std::vector<uint64_t> order(rows.width);
  for (uint64_t row = 0; row < rows.count; ++row) {
    for (uint64_t j = 0; j < rows.width; ++j) scores[j] = ScoreAt(t, row * rows.width + j);
    std::iota(order.begin(), order.end(), uint64_t{0});
    std::partial_sort(order.begin(), order.begin() + static_cast<ptrdiff_t>(k), order.end(),
                      [&](uint64_t a, uint64_t b) { return Ranks(scores[a], a, scores[b], b); });
    for (uint64_t j = 0; j < k; ++j) {
      char text[64];
      const auto len = static_cast<uint32_t>(FormatClass(text, sizeof text, t, scores[order[j]], order[j]));
      const uint8_t prefix[4] = {static_cast<uint8_t>(len), static_cast<uint8_t>(len >> 8),
                                 static_cast<uint8_t>(len >> 16), static_cast<uint8_t>(len >> 24)};
      out.data.insert(out.data.end(), prefix, prefix + 4);
      out.data.insert(out.data.end(), text, text + len);
    }
    if (out.data.size() > max_bytes) return TooLarge(max_bytes);
  }
  return out;
}

StatusOr<runtime::Tensor> Label(const TensorView& t, const Rows& rows, uint64_t max_bytes) {
  const uint64_t kept = rows.width == 0 ? 0 : 1;
  if (rows.count * kept > max_bytes / sizeof(int64_t)) return TooLarge(max_bytes);
  runtime::Tensor out{std::string(t.name), DataType::kInt64, rows.Shape(t, kept), {}};
  out.data.resize(static_cast<size_t>(rows.count * kept * sizeof(int64_t)));
  for (uint64_t row = 0; row < rows.count; ++row) {
    uint64_t best = 0;
    double best_score = ScoreAt(t, row * rows.width);
    for (uint64_t j = 1; j < rows.width; ++j) {
      const double s = ScoreAt(t, row * rows.width + j);
      if (Ranks(s, j, best_score, best)) best = j, best_score = s;
    }
    const auto index = static_cast<int64_t>(best);
    std::memcpy(out.data.data() + row * sizeof(int64_t), &index, sizeof index);
  }
  return out;
}

StatusOr<runtime::Tensor> Round(const TensorView& t, int decimals, uint64_t max_bytes) {
  if (t.data.size() > max_bytes) return TooLarge(max_bytes);
  runtime::Tensor out{std::string(t.name), t.datatype, t.shape, {t.data.begin(), t.data.end()}};
  uint8_t* p = out.data.data();
  const uint64_t count = t.data.size() / runtime::DataTypeSize(t.datatype);
  for (uint64_t i = 0; i < count; ++i) {
    const double rounded = internal::RoundDecimal(ScoreAt(t, i), decimals);
    if (t.datatype == DataType::kFp16) {
      // A rounded half stays within the half range (65504 is an integer), so
      // DoubleToHalf always succeeds; keep the value if it ever did not.
      if (const auto h = runtime::DoubleToHalf(rounded)) std::memcpy(p + i * 2, &*h, 2);
    } else if (t.datatype == DataType::kFp32) {
      const auto f = static_cast<float>(rounded);
      std::memcpy(p + i * 4, &f, 4);
    } else {
      std::memcpy(p + i * 8, &rounded, 8);
    }
  }
  return out;
}

StatusOr<runtime::Tensor> Transform(const OutputPolicy& policy, const TensorView& t, const Rows& rows,
                                    uint64_t max_bytes) {
  switch (policy.kind) {
    case OutputPolicy::Kind::kTopK:
      return TopK(t, rows, static_cast<uint64_t>(policy.param), max_bytes);
    case OutputPolicy::Kind::kLabel:
      return Label(t, rows, max_bytes);
    case OutputPolicy::Kind::kRound:
      return Round(t, policy.param, max_bytes);
    case OutputPolicy::Kind::kFull:
      break;
  }
  return Status::Internal("output policy " + OutputPolicyName(policy) + " has no transform");
}

}  // namespace

StatusOr<std::optional<runtime::Tensor>> ApplyOutputPolicy(const OutputPolicy& policy, const TensorView& output,
                                                           uint64_t max_bytes) {
  if (policy.IsFull() || !internal::IsScore(output.datatype)) return std::optional<runtime::Tensor>();
  AEGIS_ASSIGN_OR_RETURN(const Rows rows, CheckedRows(output));
  AEGIS_ASSIGN_OR_RETURN(runtime::Tensor hardened, Transform(policy, output, rows, max_bytes));
  return std::optional<runtime::Tensor>(std::move(hardened));
}

StatusOr<std::vector<runtime::Tensor>> HardenOutputs(const OutputPolicy& policy, std::vector<TensorView>& outputs,
                                                     uint64_t max_bytes) {
  std::vector<runtime::Tensor> hardened;
  if (policy.IsFull()) return hardened;
  hardened.reserve(outputs.size());  // no reallocation: views point into it
  for (TensorView& view : outputs) {
    AEGIS_ASSIGN_OR_RETURN(std::optional<runtime::Tensor> replaced, ApplyOutputPolicy(policy, view, max_bytes));
    if (!replaced) continue;
    const runtime::Tensor& t = hardened.emplace_back(std::move(*replaced));
    // The name stays the engine's (same text); the data is the heap buffer of
    // `t`, which no move of the vector relocates.
    view.datatype = t.datatype;
    view.shape = t.shape;
    view.data = t.data;
  }
  return hardened;
}

}  // namespace aegis::guard
