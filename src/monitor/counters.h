// The request-path counters behind Monitor (internal to src/monitor): one
// ModelSeries per served model version plus the "-" series, the per-stage
// histograms, authentication attempts and authorization denials.
//
// Series are created once and never freed while the Monitor lives, so a
// pointer handed out stays valid. Lookups read an immutable index published
// through an atomic pointer (old indexes are retired, not freed, until the
// Monitor goes: at most kMaxModelSeries of them), so the hot path takes no lock.
//
// Thread-safety: all members are safe for concurrent use.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "aegis/common/mutex.h"
#include "aegis/common/thread_annotations.h"
#include "aegis/monitor/monitor.h"
#include "latency_histogram.h"

namespace aegis::monitor {

class ModelSeries {
 public:
  static constexpr int kMinCode = 100;
  static constexpr int kMaxCode = 599;

  ModelSeries(std::string model, std::string version, size_t slot)
      : model(std::move(model)), version(std::move(version)), slot(slot) {}

  void Count(int status) {
    // The server only answers 100..599; anything else would be our bug, counted as one.
    const int code = status < kMinCode || status > kMaxCode ? 500 : status;
    by_code[static_cast<size_t>(code - kMinCode)].fetch_add(1, std::memory_order_relaxed);
    total.fetch_add(1, std::memory_order_relaxed);
    if (code >= 500) errors.fetch_add(1, std::memory_order_relaxed);
  }

  // The engine's answer to one inference.
  void CountInference(bool ok, std::chrono::nanoseconds waited, int batch_size) {
    (ok ? inferences_ok : inferences_failed).fetch_add(1, std::memory_order_relaxed);
    queue_wait.Observe(waited);
    batch_sizes.Observe(batch_size);
  }

  const std::string model;  // "-" for the unlabeled series
  const std::string version;
  const size_t slot;  // index in the dashboard's per-model samples
  std::array<std::atomic<uint64_t>, kMaxCode - kMinCode + 1> by_code{};
  std::atomic<uint64_t> total{0};
  std::atomic<uint64_t> errors{0};  // answered 5xx (the dashboard's error rate)
  internal::LatencyHistogram latency;
  // Inferences the engine answered (ok) or failed, the time each waited for a
  // free instance, and how many requests ran in its batch.
  std::atomic<uint64_t> inferences_ok{0}, inferences_failed{0};
  internal::LatencyHistogram queue_wait;
  internal::CountHistogram batch_sizes;
};

namespace internal {

// (name, version) → series, looked up without building a key string.
struct SeriesKey {
  std::string_view model, version;
  bool operator==(const SeriesKey&) const = default;
};
struct SeriesKeyHash {
  size_t operator()(const SeriesKey& k) const {
    const size_t a = std::hash<std::string_view>{}(k.model);
    return a ^ (std::hash<std::string_view>{}(k.version) + 0x9e3779b97f4a7c15ull + (a << 6) + (a >> 2));
  }
};
// Keys point into the series' own strings, which never move.
using SeriesIndex = std::unordered_map<SeriesKey, ModelSeries*, SeriesKeyHash>;

struct Counters {
  Counters();

  // The series of `model`/`version`, created if there is room; nullptr beyond
  // kMaxModelSeries (the caller then uses `unlabeled`).
  ModelSeries* Find(std::string_view model, std::string_view version) const;
  ModelSeries* FindOrCreate(std::string_view model, std::string_view version) AEGIS_EXCLUDES(mu_);
  // Every labeled series, by slot.
  std::vector<const ModelSeries*> All() const AEGIS_EXCLUDES(mu_);

  ModelSeries unlabeled{"-", "-", SIZE_MAX};
  std::array<LatencyHistogram, kStageCount> stages;
  // [method][0 = success, 1 = failure]
  std::array<std::array<std::atomic<uint64_t>, 2>, kAuthMethodCount> auth{};
  std::atomic<uint64_t> authz_denied{0};
  // Engine worker events, by runtime::RuntimeEvent::Kind.
  static constexpr size_t kRuntimeEventKinds = 6;
  std::array<std::atomic<uint64_t>, kRuntimeEventKinds> runtime_events{};
  std::atomic<uint64_t> responses_too_large{0};
  // By guard::GuardReason.
  static constexpr size_t kGuardReasons = guard::kGuardReasonCount;
  std::array<std::atomic<uint64_t>, kGuardReasons> rate_limited{};
  std::atomic<uint64_t> allowed{0};
  std::atomic<uint64_t> denied{0};
  // Requests the API layer began and has not ended (a gauge).
  std::atomic<int64_t> in_flight{0};
  // GET /metrics answered, by the listener it came on: counted, not audited.
  std::array<std::atomic<uint64_t>, kScrapeListenerCount> scrapes{};

 private:
  // Read without a lock; replaced only with mu_ held (a copy of the last index
  // plus the new series), so two creators never publish divergent indexes.
  std::atomic<const SeriesIndex*> index_;
  mutable Mutex mu_;  // creation only
  std::vector<std::unique_ptr<ModelSeries>> series_ AEGIS_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<const SeriesIndex>> indexes_ AEGIS_GUARDED_BY(mu_);  // the current one is last
};

}  // namespace internal
}  // namespace aegis::monitor
