// Screening and ScreenedVersion: see screening.h.
#include "aegis/guard/screening.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>

#include "row_kernels.h"
#include "tensor_values.h"

namespace aegis::guard {

// The sliding drift window: counts per drift feature and bin in the current
// and the previous half.
struct ScreenedVersion::Window {
  mutable Mutex mu;
  struct Input {  // guarded by mu
    std::vector<uint32_t> current, previous;
  };
  explicit Window(const Baseline& b) {
    for (const auto& input : b.inputs) {
      inputs.emplace_back();
      inputs.back().current.assign(input.drift_features.size() * kPsiBins, 0);
      inputs.back().previous.assign(input.drift_features.size() * kPsiBins, 0);
      rows_current.push_back(0);
      rows_previous.push_back(0);
    }
  }
  std::vector<Input> inputs;
  std::vector<uint64_t> rows_current AEGIS_GUARDED_BY(mu), rows_previous AEGIS_GUARDED_BY(mu);
};

namespace {

std::string Number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

// The bin of `v` among the 9 deciles: how many deciles are below it (the
// same as the baseline's lower_bound).
size_t BinOf(const float* deciles, float v) {
  size_t bin = 0;
  for (size_t j = 0; j < kDeciles; ++j) bin += deciles[j] < v ? 1 : 0;
  return bin;
}

}  // namespace

StatusOr<ScreeningMode> ParseScreeningMode(std::string_view text) {
  if (text == "off") return ScreeningMode::kOff;
  if (text == "flag") return ScreeningMode::kFlag;
  if (text == "refuse") return ScreeningMode::kRefuse;
  return Status::InvalidArgument("must be \"off\", \"flag\" or \"refuse\"");
}

std::string_view ScreeningModeName(ScreeningMode mode) {
  switch (mode) {
    case ScreeningMode::kOff:
      return "off";
    case ScreeningMode::kFlag:
      return "flag";
    case ScreeningMode::kRefuse:
      return "refuse";
  }
  return "flag";
}

std::string_view ScreeningReasonName(ScreeningReason reason) {
  switch (reason) {
    case ScreeningReason::kNonFinite:
      return "nonfinite";
    case ScreeningReason::kRange:
      return "range";
    case ScreeningReason::kSigma:
      return "sigma";
    case ScreeningReason::kScore:
      return "score";
    case ScreeningReason::kShape:
      return "shape";
  }
  return "range";
}

std::string ScreeningFinding::Describe() const {
  const std::string where = "input '" + input + "'";
  const std::string row_text = " (row " + std::to_string(row) + ")";
  switch (reason) {
    case ScreeningReason::kShape:
      return where + ": rows have another number of features than the baseline's";
    case ScreeningReason::kScore:
      return where + row_text + ": multivariate score " + Number(value) + " is above the baseline's threshold " +
             Number(bound) + " by " + Number(excess);
    case ScreeningReason::kNonFinite:
      return where + " feature " + std::to_string(feature) + row_text + ": value " + Number(value) +
             " where the baseline had only finite values";
    case ScreeningReason::kRange:
    case ScreeningReason::kSigma:
      break;
  }
  return where + " feature " + std::to_string(feature) + row_text + ": value " + Number(value) + " is " +
         (value < bound ? "below" : "above") + " the baseline's " +
         (reason == ScreeningReason::kRange ? "range" : "sigma") + " bound " + Number(bound) + " by " + Number(excess);
}

ScreenedVersion::ScreenedVersion(std::string model, std::string version, Baseline baseline,
                                 const ScreeningSettings& settings,
                                 std::array<std::atomic<uint64_t>, kScreeningReasonCount>* flagged)
    : model_(std::move(model)),
      version_(std::move(version)),
      baseline_(std::move(baseline)),
      settings_(settings),
      flagged_(flagged),
      window_(std::make_unique<Window>(baseline_)) {
  for (const InputBaseline& b : baseline_.inputs) {
    Compiled c;
    c.lo.resize(b.features);
    c.hi.resize(b.features);
    for (uint64_t f = 0; f < b.features; ++f) {
      const double range = static_cast<double>(b.max[f]) - b.min[f];
      const double margin = settings_.range_margin * range;
      const double sd = settings_.sigma * b.stddev[f];
      const double lo = std::max(b.min[f] - margin, std::min<double>(b.mean[f] - sd, b.min[f]));
      const double hi = std::min(b.max[f] + margin, std::max<double>(b.mean[f] + sd, b.max[f]));
      // Rounded outwards, so that the float bound never excludes the double one.
      c.lo[f] = std::nextafter(static_cast<float>(lo), -INFINITY);
      c.hi[f] = std::nextafter(static_cast<float>(hi), INFINITY);
    }
    compiled_.push_back(std::move(c));
  }
}

std::optional<ScreeningFinding> ScreenedVersion::Explain(size_t input, uint64_t row, uint64_t feature,
                                                         float value) const {
  const InputBaseline& b = baseline_.inputs[input];
  ScreeningFinding f{ScreeningReason::kRange, b.name, row, static_cast<int64_t>(feature), value, 0, 0};
  if (!std::isfinite(value)) {
    if (b.nonfinite[feature] != 0) return std::nullopt;
    f.reason = ScreeningReason::kNonFinite;
    f.bound = value > 0 ? b.max[feature] : b.min[feature];
    f.excess = INFINITY;
    return f;
  }
  const double margin = settings_.range_margin * (static_cast<double>(b.max[feature]) - b.min[feature]);
  const double range_lo = b.min[feature] - margin;
  const double range_hi = b.max[feature] + margin;
  const float lo = compiled_[input].lo[feature];
  const float hi = compiled_[input].hi[feature];
  if (value >= lo && value <= hi) return std::nullopt;
  const bool below = value < lo;
  const double range_bound = below ? range_lo : range_hi;
  const bool beyond_range = below ? value < range_lo : value > range_hi;
  f.reason = beyond_range ? ScreeningReason::kRange : ScreeningReason::kSigma;
  f.bound = beyond_range ? static_cast<float>(range_bound) : (below ? lo : hi);
  f.excess = std::abs(value - f.bound);
  return f;
}

std::optional<ScreeningFinding> ScreenedVersion::ScreenInput(size_t index, const runtime::TensorView& tensor) const {
  const InputBaseline& b = baseline_.inputs[index];
  const Compiled& c = compiled_[index];
  const auto count = tensor.ElementCount();
  if (!count || *count * runtime::DataTypeSize(tensor.datatype) != tensor.data.size()) return std::nullopt;
  if (*count == 0) return std::nullopt;
  if (*count % b.features != 0) return ScreeningFinding{ScreeningReason::kShape, b.name, 0, -1, 0, 0, 0};
  const uint64_t rows = *count / b.features;
  const bool fp32 = tensor.datatype == runtime::DataType::kFp32 &&
                    reinterpret_cast<uintptr_t>(tensor.data.data()) % alignof(float) == 0;
  std::vector<float> converted;
  if (!fp32) converted.resize(b.features);
  const MultivariateModel& m = b.multivariate;
  const float score_limit = static_cast<float>(m.threshold * settings_.score_multiplier);
  const bool has_score = m.Components() > 0;
  float sums[kMaxReducedDims];
  const uint64_t drift_rows = std::min(rows, kDriftRowsPerRequest);
  Window& w = *window_;
  Window::Input& win = w.inputs[index];
  std::optional<ScreeningFinding> out;
  for (uint64_t r = 0; r < rows && !out; ++r) {
    const float* x = nullptr;
    if (fp32) {
      x = reinterpret_cast<const float*>(tensor.data.data()) + r * b.features;
    } else {
      internal::ToFloats(tensor.datatype, tensor.data.data() + r * b.features * runtime::DataTypeSize(tensor.datatype),
                         b.features, converted.data());
      x = converted.data();
    }
    // One pass: the bounds of every feature and, for the score, the block sums.
    bool outside = false;
    if (has_score) {
      for (uint32_t d = 0; d < m.dims; ++d) {
        const uint64_t begin = uint64_t{d} * m.block;
        const uint64_t n = std::min<uint64_t>(m.block, b.features - begin);
        outside |= internal::CheckAndSum(x + begin, &c.lo[begin], &c.hi[begin], n, &sums[d]);
      }
    } else {
      outside = internal::CheckAndSum(x, c.lo.data(), c.hi.data(), b.features, nullptr);
    }
    if (outside) {
      for (uint64_t f = 0; f < b.features && !out; ++f) out = Explain(index, r, f, x[f]);
      if (out) break;
    }
    if (has_score) {
      const float score = internal::ScoreOfBlockSums(m, sums, b.features);
      if (score > score_limit) {
        out = ScreeningFinding{ScreeningReason::kScore, b.name, r, -1, score, score_limit, score - score_limit};
        break;
      }
    }
    // Drift: a few rows per request; never wait for the window.
    if (r < drift_rows && !b.drift_features.empty() && w.mu.TryLock()) {
      for (size_t i = 0; i < b.drift_features.size(); ++i) {
        const uint32_t f = b.drift_features[i];
        if (!std::isfinite(x[f])) continue;
        win.current[i * kPsiBins + BinOf(&b.deciles[f * kDeciles], x[f])] += 1;
      }
      if (++w.rows_current[index] >= kDriftWindowRows / 2) {
        win.previous.swap(win.current);
        std::fill(win.current.begin(), win.current.end(), 0);
        w.rows_previous[index] = w.rows_current[index];
        w.rows_current[index] = 0;
      }
      w.mu.Unlock();
    }
  }
  return out;
}

std::optional<ScreeningFinding> ScreenedVersion::Screen(std::span<const runtime::TensorView> inputs) const {
  for (const runtime::TensorView& tensor : inputs) {
    if (!internal::Screenable(tensor.datatype)) continue;
    for (size_t i = 0; i < baseline_.inputs.size(); ++i) {
      if (baseline_.inputs[i].name != tensor.name) continue;
      if (auto finding = ScreenInput(i, tensor)) return finding;
    }
  }
  return std::nullopt;
}

void ScreenedVersion::Count(ScreeningReason reason) const {
  (*flagged_)[static_cast<size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
}

bool ScreenedVersion::ShouldSignal(std::string_view principal, int64_t now_ms) const {
  auto& slot = signal_slots_[std::hash<std::string_view>{}(principal) % signal_slots_.size()];
  int64_t last = slot.load(std::memory_order_relaxed);
  if (now_ms - last < 1000) return false;
  return slot.compare_exchange_strong(last, now_ms, std::memory_order_relaxed);
}

std::vector<FeatureDrift> ScreenedVersion::TopDrift() const {
  std::vector<FeatureDrift> all;
  Window& w = *window_;
  MutexLock lock(w.mu);
  for (size_t index = 0; index < baseline_.inputs.size(); ++index) {
    const InputBaseline& b = baseline_.inputs[index];
    const Window::Input& win = w.inputs[index];
    const uint64_t rows = w.rows_current[index] + w.rows_previous[index];
    if (rows < kDriftMinRows) continue;
    for (size_t i = 0; i < b.drift_features.size(); ++i) {
      uint64_t seen = 0;
      for (size_t k = 0; k < kPsiBins; ++k) seen += win.current[i * kPsiBins + k] + win.previous[i * kPsiBins + k];
      if (seen == 0) continue;
      double psi = 0;
      constexpr double kFloor = 1e-4;  // an empty bin would make ln(o/e) infinite
      for (size_t k = 0; k < kPsiBins; ++k) {
        const double o =
            std::max(kFloor, static_cast<double>(win.current[i * kPsiBins + k] + win.previous[i * kPsiBins + k]) /
                                 static_cast<double>(seen));
        const double e = std::max(kFloor, static_cast<double>(b.drift_expected[i * kPsiBins + k]));
        psi += (o - e) * std::log(o / e);
      }
      all.push_back({b.name, b.drift_features[i], psi});
    }
  }
  std::sort(all.begin(), all.end(), [](const FeatureDrift& x, const FeatureDrift& y) {
    return x.psi != y.psi ? x.psi > y.psi : std::tie(x.input, x.feature) < std::tie(y.input, y.feature);
  });
  if (all.size() > kDriftTopFeatures) all.resize(kDriftTopFeatures);
  return all;
}

Screening::Screening(std::map<std::string, ScreeningSettings, std::less<>> settings) : settings_(std::move(settings)) {}

const ScreeningSettings& Screening::SettingsFor(std::string_view model) const {
  static const ScreeningSettings kDefaults;
  const auto it = settings_.find(model);
  return it == settings_.end() ? kDefaults : it->second;
}

void Screening::Install(const std::string& model, const std::string& version, Baseline baseline) {
  MutexLock lock(mu_);
  auto& counters = flagged_[model];
  if (!counters) counters = std::make_unique<std::array<std::atomic<uint64_t>, kScreeningReasonCount>>();
  versions_[model + "\n" + version] =
      std::make_shared<const ScreenedVersion>(model, version, std::move(baseline), SettingsFor(model), counters.get());
}

void Screening::Remove(const std::string& model, const std::string& version) {
  MutexLock lock(mu_);
  versions_.erase(model + "\n" + version);
}

std::shared_ptr<const ScreenedVersion> Screening::Find(std::string_view model, std::string_view version) const {
  std::string key;
  key.reserve(model.size() + version.size() + 1);
  key.append(model).append("\n").append(version);
  MutexLock lock(mu_);
  const auto it = versions_.find(key);
  return it == versions_.end() ? nullptr : it->second;
}

std::vector<ScreeningCounts> Screening::Counts() const {
  MutexLock lock(mu_);
  std::vector<ScreeningCounts> out;
  for (const auto& [model, counters] : flagged_) {
    ScreeningCounts c{model, {}};
    for (size_t i = 0; i < kScreeningReasonCount; ++i) c.flagged[i] = (*counters)[i].load(std::memory_order_relaxed);
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<std::shared_ptr<const ScreenedVersion>> Screening::Versions() const {
  MutexLock lock(mu_);
  std::vector<std::shared_ptr<const ScreenedVersion>> out;
  for (const auto& [key, v] : versions_) out.push_back(v);
  return out;
}

}  // namespace aegis::guard
