// ExtractionDetector: the model-extraction detector (issue 15 section 3;
// docs/threat-detection.md, "Extraction detection"). PRADA (Juuti et al.,
// EuroS&P 2019), per (principal, model name):
//
//   for each row x the model answered with class c (argmax of its scores):
//     (a row equal to one of the pair's latest 512 distinct rows is skipped:
//     a repeat teaches nothing, and a client repeating a few fixed inputs
//     would otherwise add the same few distances again and again);
//     d = min L2 distance from x to G_c, the principal's earlier rows of class c
//         kept as the "growing set"; d is appended to D (the row is skipped
//         when G_c is empty, and when d == 0);
//     x joins G_c when d > T_c = max(0, mean - std of the distances of the rows
//         that joined G_c so far);
//   every `test_every` rows once D holds min_queries distances: W =
//     Shapiro-Wilk of the last `window` distances; W < threshold (delta) is an
//     alarm. Natural queries give roughly normal nearest-neighbour distances;
//     synthetic ones (a few seeds, then small steps from earlier queries) give a
//     spike at the step length plus a tail: W falls far below 1.
//
// Plus a volume signal: more than max_rows_per_day rows of one principal on one
// model within a day (fixed windows) is an alarm too.
//
// Bounded, whatever the client sends: rows wider than `dims` features are
// projected to `dims` (a very sparse random projection, Li, Hastie and Church
// 2006, seeded once per detector) before anything is stored or compared; G holds
// at most max_points rows per pair (the oldest make room); D holds `window`
// distances; at most max_tracked pairs (the least recently used goes); NaN
// reads as 0 and values are clamped to +-1e15; at most kMaxRowsPerRequest rows
// of one request are observed (evenly spaced). W is computed every test_every
// rows, on cached coefficients.
//
// Use: Project() the request's input before it is handed to the engine (the
// input is moved there), then Observe() the projected rows with the engine's
// outputs. Observe() returns an alarm at most once per window of rows: the
// caller raises the incident.
//
// Thread-safety: safe for concurrent use. One short lock finds the pair; the
// rows are compared under that pair's own lock, so principals never wait for
// each other's work.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "aegis/common/status.h"
#include "aegis/guard/shapiro_wilk.h"
#include "aegis/runtime/tensor.h"

namespace aegis::guard {

// What [guard] sets for every model and [models."NAME"] may override.
struct ExtractionSettings {
  bool enabled = true;
  double threshold = 0.90;                // delta: alarm when W < delta
  uint32_t min_queries = 50;              // distances in D before the first test
  uint32_t window = 200;                  // the most recent distances tested
  uint64_t max_rows_per_day = 1'000'000;  // the volume signal; 0 = off
  bool operator==(const ExtractionSettings&) const = default;
};

// InvalidArgument naming the field when a setting is outside its bounds:
// threshold in (0, 1), min_queries in [20, 5000], window in [min_queries, 5000].
Status CheckExtractionSettings(const ExtractionSettings& s);

struct ExtractionOptions {
  ExtractionSettings defaults;
  std::map<std::string, ExtractionSettings, std::less<>> models;  // by model name
  size_t max_tracked = 1000;                                      // (principal, model) pairs
  size_t max_points = 512;                                        // rows kept in G per pair, over all classes
  size_t dims = 32;                                               // rows wider than this are projected to it
  uint32_t test_every = 10;                                       // rows between two W tests of a pair
  uint64_t seed = 0;                                              // the projection's; 0: random at construction
};

// One request's rows as the detector stores them: rows x dims floats.
struct ProjectedRows {
  size_t request_rows = 0;    // rows in the request
  size_t rows = 0, dims = 0;  // rows observed (at most kMaxRowsPerRequest)
  std::vector<float> values;
  std::vector<size_t> indices;  // the request rows observed (all, or an even sample)
};

struct ExtractionAlarm {
  enum class Signal : uint8_t { kDistances, kVolume };
  Signal signal = Signal::kDistances;
  double w = 0;                   // kDistances: the W that fell below the threshold
  double threshold = 0;           // delta, or max_rows_per_day for kVolume
  uint64_t rows = 0;              // rows of this pair seen since it was tracked
  uint32_t window = 0;            // distances tested
  int64_t first_query_at_ms = 0;  // unix ms of the window's first row
  int64_t detected_at_ms = 0;     // unix ms of the alarm
};

inline constexpr size_t kMaxRowsPerRequest = 4096;

class ExtractionDetector {
 public:
  explicit ExtractionDetector(ExtractionOptions options);
  ~ExtractionDetector();
  ExtractionDetector(const ExtractionDetector&) = delete;
  ExtractionDetector& operator=(const ExtractionDetector&) = delete;

  const ExtractionSettings& SettingsFor(std::string_view model) const;

  // The rows of `input` (first dimension = rows, the rest = features; rank 0
  // or 1 is one row) as stored: projected when wider than options().dims.
  // Numeric datatypes only; nullopt for BYTES, an empty or malformed tensor.
  std::optional<ProjectedRows> Project(const runtime::TensorView& input) const;

  // Feeds the rows of one answered request of `principal` on `model`; the
  // class of each row is read from `outputs` (the first floating-point output
  // with one row per input row: its argmax; else an integer output with one
  // value per row; else one class for all). `now` is the wall clock.
  std::optional<ExtractionAlarm> Observe(std::string_view principal, std::string_view model, const ProjectedRows& rows,
                                         std::span<const runtime::TensorView> outputs,
                                         std::chrono::system_clock::time_point now);

  size_t Tracked() const;
  uint64_t Alarms(ExtractionAlarm::Signal signal) const { return alarms_[static_cast<size_t>(signal)].load(); }
  // Bytes the tracked pairs hold (their G, D and class statistics).
  size_t TrackedBytes() const;
  const ExtractionOptions& options() const { return options_; }

 private:
  struct Pair;
  struct Projection;
  std::shared_ptr<Pair> Find(const std::string& key, size_t dims);
  std::shared_ptr<const ShapiroWilkCoefficients> Coefficients(size_t n);
  std::shared_ptr<const Projection> ProjectionFor(size_t features) const;

  const ExtractionOptions options_;
  uint64_t seed_;
  std::array<std::atomic<uint64_t>, 2> alarms_{};

  mutable std::mutex mu_;       // pairs_ and lru_
  std::list<std::string> lru_;  // most recent first
  struct Entry {
    std::shared_ptr<Pair> pair;
    std::list<std::string>::iterator lru;
  };
  std::unordered_map<std::string, Entry> pairs_;

  std::mutex coefficients_mu_;
  std::map<size_t, std::shared_ptr<const ShapiroWilkCoefficients>> coefficients_;

  mutable std::mutex projections_mu_;
  mutable std::map<size_t, std::shared_ptr<const Projection>> projections_;
};

}  // namespace aegis::guard
