// Input screening: each row of each input of an inference request checked
// against the frozen baseline of the model version that serves it (baseline.h),
// and the drift of live inputs from it (docs/threat-detection.md, "Input
// screening"; MITRE ATLAS AML.M0015, OWASP ML01).
//
// A row is outside the baseline when one of its values
//   - is NaN or infinite where the baseline had only finite values (nonfinite);
//   - lies beyond [min - m, max + m], m = range_margin x (max - min) (range);
//   - lies beyond the observed range and beyond mean +- sigma x std (sigma);
// or when its multivariate score exceeds the baseline's threshold x
// score_multiplier (score); or when its row has another number of features
// than the baseline's (shape). The first such finding of a request is
// reported (input, row, feature, value, the bound and by how much).
//
// Drift: for each screened version, at most kMaxDriftFeatures features per
// input count live rows in the baseline's decile bins over a sliding window of
// the last kDriftWindowRows rows (two halves; at most kDriftRowsPerRequest
// rows of a request are counted; a row is skipped rather than waited for when
// another thread holds the window), and the Population Stability Index
// PSI = sum_k (o_k - e_k) ln(o_k / e_k) is read at scrape time, once at least
// kDriftMinRows rows were seen.
//
// Example:
//   Screening screening(settings_by_model);
//   screening.Install("m", "1", baseline);      // at start and on upload
//   auto v = screening.Find("m", "1");          // per request
//   if (v && v->mode() != ScreeningMode::kOff) finding = v->Screen(inputs);
//
// Thread-safety: Screening and ScreenedVersion are safe for concurrent use.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aegis/common/mutex.h"
#include "aegis/common/status.h"
#include "aegis/guard/baseline.h"
#include "aegis/runtime/tensor.h"

namespace aegis::guard {

enum class ScreeningMode : uint8_t { kOff, kFlag, kRefuse };
// "off" | "flag" | "refuse"; InvalidArgument otherwise.
StatusOr<ScreeningMode> ParseScreeningMode(std::string_view text);
std::string_view ScreeningModeName(ScreeningMode mode);

// [models."NAME"] screening settings.
struct ScreeningSettings {
  ScreeningMode mode = ScreeningMode::kFlag;  // applies once the version has a baseline
  double sigma = 6.0;                         // screening_sigma, > 0
  double range_margin = 0.1;                  // screening_range_margin, >= 0, a share of the range
  double score_multiplier = 2.0;              // screening_score, >= 1
  bool operator==(const ScreeningSettings&) const = default;
};

enum class ScreeningReason : uint8_t { kNonFinite, kRange, kSigma, kScore, kShape };
inline constexpr size_t kScreeningReasonCount = 5;
std::string_view ScreeningReasonName(ScreeningReason reason);  // "nonfinite", "range", ...

struct ScreeningFinding {
  ScreeningReason reason = ScreeningReason::kRange;
  std::string input;
  uint64_t row = 0;
  int64_t feature = -1;  // 0-based, flattened in C order; -1 for the score and shape
  float value = 0;       // the value, or the score
  float bound = 0;       // the bound it crossed
  float excess = 0;      // |value - bound| (infinite for a non-finite value)
  // "input 'x' feature 3 (row 0): value 12.5 is above the baseline's range
  // bound 1.1 by 11.4"
  std::string Describe() const;
};

inline constexpr uint64_t kDriftWindowRows = 1000;
inline constexpr uint64_t kDriftMinRows = 100;
inline constexpr uint64_t kDriftRowsPerRequest = 8;
inline constexpr size_t kDriftTopFeatures = 8;

struct FeatureDrift {
  std::string input;
  uint32_t feature = 0;
  double psi = 0;
};

// A model version's compiled baseline: the per-feature bounds under its
// model's settings, the multivariate model, the drift window and counters.
class ScreenedVersion {
 public:
  ScreenedVersion(std::string model, std::string version, Baseline baseline, const ScreeningSettings& settings,
                  std::array<std::atomic<uint64_t>, kScreeningReasonCount>* flagged);
  ScreenedVersion(const ScreenedVersion&) = delete;
  ScreenedVersion& operator=(const ScreenedVersion&) = delete;

  const std::string& model() const { return model_; }
  const std::string& version() const { return version_; }
  ScreeningMode mode() const { return settings_.mode; }
  const Baseline& baseline() const { return baseline_; }

  // The first finding in `inputs` (inputs the baseline does not know and
  // non-numeric ones are not screened), or nullopt. Also counts rows into the
  // drift window.
  std::optional<ScreeningFinding> Screen(std::span<const runtime::TensorView> inputs) const;
  // Counts a finding in aegis_screening_flagged_total.
  void Count(ScreeningReason reason) const;
  // Whether an out_of_distribution signal for `principal` should be posted
  // now: at most one per principal slot per second, so that a flood of flags
  // cannot fill the incidents' queue.
  bool ShouldSignal(std::string_view principal, int64_t now_ms) const;
  // The kDriftTopFeatures features with the highest PSI (highest first);
  // empty before kDriftMinRows rows.
  std::vector<FeatureDrift> TopDrift() const;

 private:
  struct Compiled {
    std::vector<float> lo, hi;  // a value outside [lo, hi] (or NaN) needs a closer look
  };
  struct Window;
  std::optional<ScreeningFinding> Explain(size_t input, uint64_t row, uint64_t feature, float value) const;
  std::optional<ScreeningFinding> ScreenInput(size_t index, const runtime::TensorView& tensor) const;

  std::string model_, version_;
  Baseline baseline_;
  ScreeningSettings settings_;
  std::vector<Compiled> compiled_;
  std::array<std::atomic<uint64_t>, kScreeningReasonCount>* flagged_;
  std::unique_ptr<Window> window_;
  mutable std::array<std::atomic<int64_t>, 64> signal_slots_{};
};

struct ScreeningCounts {
  std::string model;
  std::array<uint64_t, kScreeningReasonCount> flagged{};
};

class Screening {
 public:
  // Settings per model name; a name not listed gets ScreeningSettings{}.
  explicit Screening(std::map<std::string, ScreeningSettings, std::less<>> settings = {});

  // Makes `baseline` the one of (model, version), replacing any before.
  void Install(const std::string& model, const std::string& version, Baseline baseline) AEGIS_EXCLUDES(mu_);
  void Remove(const std::string& model, const std::string& version) AEGIS_EXCLUDES(mu_);
  // Null when the version has no baseline.
  std::shared_ptr<const ScreenedVersion> Find(std::string_view model, std::string_view version) const
      AEGIS_EXCLUDES(mu_);
  const ScreeningSettings& SettingsFor(std::string_view model) const;

  // aegis_screening_flagged_total, per model that ever had a baseline.
  std::vector<ScreeningCounts> Counts() const AEGIS_EXCLUDES(mu_);
  // Every screened version.
  std::vector<std::shared_ptr<const ScreenedVersion>> Versions() const AEGIS_EXCLUDES(mu_);

 private:
  const std::map<std::string, ScreeningSettings, std::less<>> settings_;
  mutable Mutex mu_;
  // by "model\nversion"
  std::map<std::string, std::shared_ptr<const ScreenedVersion>, std::less<>> versions_ AEGIS_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<std::array<std::atomic<uint64_t>, kScreeningReasonCount>>, std::less<>> flagged_
      AEGIS_GUARDED_BY(mu_);
};

}  // namespace aegis::guard
