// The stored form of a Baseline, and a v2 tensor as a sample input. See
// baseline.h. Little-endian throughout:
//   "AEGISBL1" u32 format(1) u64 rows u32 inputs
//   per input: u32 name_len, name, u64 features, f32 min[F] max[F] mean[F]
//   std[F] deciles[9F], u8 nonfinite[F], u32 block, u32 dims, u32 components,
//   f32 center[dims or 0] whitening[components x dims] threshold,
//   u32 drift_n, u32 drift_features[n], f32 drift_expected[n x 10]
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <set>

#include "aegis/guard/baseline.h"
#include "tensor_values.h"

namespace aegis::guard {
namespace {

static_assert(std::endian::native == std::endian::little, "the baseline format is little-endian");

constexpr char kMagic[8] = {'A', 'E', 'G', 'I', 'S', 'B', 'L', '1'};
constexpr uint32_t kFormat = 1;

class Writer {
 public:
  template <typename T>
  void Put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    out_.insert(out_.end(), p, p + sizeof(T));
  }
  template <typename T>
  void PutAll(const std::vector<T>& v) {
    const auto* p = reinterpret_cast<const uint8_t*>(v.data());
    out_.insert(out_.end(), p, p + v.size() * sizeof(T));
  }
  void PutBytes(std::string_view s) { out_.insert(out_.end(), s.begin(), s.end()); }
  std::vector<uint8_t> Take() { return std::move(out_); }

 private:
  std::vector<uint8_t> out_;
};

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> in) : in_(in) {}
  template <typename T>
  bool Get(T& v) {
    if (in_.size() - pos_ < sizeof(T)) return false;
    std::memcpy(&v, in_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  // `n` values; the caller bounded n so that n * sizeof(T) cannot overflow.
  template <typename T>
  bool GetAll(std::vector<T>& v, uint64_t n) {
    if ((in_.size() - pos_) / sizeof(T) < n) return false;
    v.resize(n);
    if (n == 0) return true;  // memcpy with an empty vector's null data is undefined
    std::memcpy(v.data(), in_.data() + pos_, n * sizeof(T));
    pos_ += n * sizeof(T);
    return true;
  }
  bool GetString(std::string& s, size_t n) {
    if (in_.size() - pos_ < n) return false;
    s.assign(reinterpret_cast<const char*>(in_.data() + pos_), n);
    pos_ += n;
    return true;
  }
  bool AtEnd() const { return pos_ == in_.size(); }

 private:
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
};

Status Corrupt(const std::string& what) { return Status::DataLoss("stored baseline is invalid: " + what); }

bool AllFinite(const std::vector<float>& v) {
  return std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); });
}

Status ParseMultivariate(Reader& r, uint64_t features, MultivariateModel& m) {
  uint32_t components = 0;
  if (!r.Get(m.block) || !r.Get(m.dims) || !r.Get(components)) return Corrupt("truncated");
  if (m.block == 0 || m.dims == 0 || m.dims > kMaxReducedDims || (features + m.block - 1) / m.block != m.dims) {
    return Corrupt("multivariate reduction does not fit the features");
  }
  if (components > kMaxComponents || components > m.dims) return Corrupt("too many components");
  if (!r.GetAll(m.center, components == 0 ? 0 : m.dims) || !r.GetAll(m.whitening, uint64_t{components} * m.dims) ||
      !r.Get(m.threshold)) {
    return Corrupt("truncated");
  }
  if (!AllFinite(m.center) || !AllFinite(m.whitening) || !std::isfinite(m.threshold) ||
      (components > 0 && !(m.threshold > 0))) {
    return Corrupt("multivariate model has non-finite values");
  }
  return Status::Ok();
}

Status ParseInput(Reader& r, InputBaseline& b) {
  uint32_t name_len = 0;
  if (!r.Get(name_len) || name_len == 0 || name_len > kMaxInputNameBytes || !r.GetString(b.name, name_len)) {
    return Corrupt("bad input name");
  }
  if (!r.Get(b.features) || b.features == 0 || b.features > kMaxFeatures) return Corrupt("bad feature count");
  const uint64_t f = b.features;
  if (!r.GetAll(b.min, f) || !r.GetAll(b.max, f) || !r.GetAll(b.mean, f) || !r.GetAll(b.stddev, f) ||
      !r.GetAll(b.deciles, f * kDeciles) || !r.GetAll(b.nonfinite, f)) {
    return Corrupt("truncated");
  }
  if (!AllFinite(b.min) || !AllFinite(b.max) || !AllFinite(b.mean) || !AllFinite(b.stddev) || !AllFinite(b.deciles)) {
    return Corrupt("input '" + b.name + "' has non-finite statistics");
  }
  for (uint64_t i = 0; i < f; ++i) {
    const float* d = &b.deciles[i * kDeciles];
    if (!(b.min[i] <= b.max[i]) || !(b.stddev[i] >= 0) || b.nonfinite[i] > 1 || !std::is_sorted(d, d + kDeciles) ||
        d[0] < b.min[i] || d[kDeciles - 1] > b.max[i]) {
      return Corrupt("input '" + b.name + "' feature " + std::to_string(i) + " is inconsistent");
    }
  }
  AEGIS_RETURN_IF_ERROR(ParseMultivariate(r, f, b.multivariate));
  uint32_t drift = 0;
  if (!r.Get(drift) || drift > kMaxDriftFeatures || drift > f || !r.GetAll(b.drift_features, drift) ||
      !r.GetAll(b.drift_expected, uint64_t{drift} * kPsiBins)) {
    return Corrupt("bad drift features");
  }
  for (size_t i = 0; i < b.drift_features.size(); ++i) {
    if (b.drift_features[i] >= f || (i > 0 && b.drift_features[i] <= b.drift_features[i - 1])) {
      return Corrupt("bad drift features");
    }
  }
  for (const float e : b.drift_expected) {
    if (!(e >= 0 && e <= 1)) return Corrupt("bad drift expectations");
  }
  return Status::Ok();
}

}  // namespace

std::vector<uint8_t> SerializeBaseline(const Baseline& baseline) {
  Writer w;
  w.PutBytes(std::string_view(kMagic, sizeof(kMagic)));
  w.Put(kFormat);
  w.Put(baseline.rows);
  w.Put(static_cast<uint32_t>(baseline.inputs.size()));
  for (const InputBaseline& b : baseline.inputs) {
    w.Put(static_cast<uint32_t>(b.name.size()));
    w.PutBytes(b.name);
    w.Put(b.features);
    w.PutAll(b.min);
    w.PutAll(b.max);
    w.PutAll(b.mean);
    w.PutAll(b.stddev);
    w.PutAll(b.deciles);
    w.PutAll(b.nonfinite);
    const MultivariateModel& m = b.multivariate;
    w.Put(m.block);
    w.Put(m.dims);
    w.Put(static_cast<uint32_t>(m.Components()));
    w.PutAll(m.center);
    w.PutAll(m.whitening);
    w.Put(m.threshold);
    w.Put(static_cast<uint32_t>(b.drift_features.size()));
    w.PutAll(b.drift_features);
    w.PutAll(b.drift_expected);
  }
  return w.Take();
}

StatusOr<Baseline> ParseBaseline(std::span<const uint8_t> bytes) {
  Reader r(bytes);
  std::string magic;
  uint32_t format = 0;
  uint32_t inputs = 0;
  Baseline out;
  if (!r.GetString(magic, sizeof(kMagic)) || magic != std::string_view(kMagic, sizeof(kMagic))) {
    return Corrupt("bad magic");
  }
  if (!r.Get(format) || format != kFormat) return Corrupt("unknown format");
  if (!r.Get(out.rows) || out.rows < kMinRows || out.rows > kMaxRows) return Corrupt("bad row count");
  if (!r.Get(inputs) || inputs == 0 || inputs > kMaxInputs) return Corrupt("bad input count");
  std::set<std::string, std::less<>> names;
  uint64_t features = 0;
  for (uint32_t i = 0; i < inputs; ++i) {
    InputBaseline b;
    AEGIS_RETURN_IF_ERROR(ParseInput(r, b));
    features += b.features;
    if (features > kMaxSampleValues || !names.insert(b.name).second) return Corrupt("bad inputs");
    out.inputs.push_back(std::move(b));
  }
  if (!r.AtEnd()) return Corrupt("trailing bytes");
  return out;
}

StatusOr<SampleInput> SampleFromTensor(const runtime::TensorView& tensor) {
  const std::string name(tensor.name);
  if (!internal::Screenable(tensor.datatype)) {
    return Status::InvalidArgument("baseline input '" + name + "': datatype " +
                                   std::string(runtime::DataTypeName(tensor.datatype)) +
                                   " is not supported (integers, FP32 and FP64 are)");
  }
  if (tensor.shape.size() < 2) {
    return Status::InvalidArgument("baseline input '" + name + "' needs a shape of [rows, features...]");
  }
  const auto count = tensor.ElementCount();
  if (!count || *count * runtime::DataTypeSize(tensor.datatype) != tensor.data.size()) {
    return Status::InvalidArgument("baseline input '" + name + "': data does not match its shape");
  }
  const auto rows = static_cast<uint64_t>(tensor.shape[0]);
  if (rows == 0 || *count == 0) return Status::InvalidArgument("baseline input '" + name + "' has no values");
  if (*count > kMaxSampleValues) {
    return Status::InvalidArgument("the baseline sample is larger than " + std::to_string(kMaxSampleValues) +
                                   " values");
  }
  SampleInput out{name, rows, *count / rows, std::vector<float>(*count)};
  internal::ToFloats(tensor.datatype, tensor.data.data(), *count, out.values.data());
  return out;
}

}  // namespace aegis::guard
