// Timeline: the dashboard's 15 minutes of 5-second buckets (internal to
// src/monitor).
//
// The request path only bumps cumulative counters (Counters); the timeline
// keeps, for each bucket, a snapshot of those counters taken when the bucket
// began. A bucket's count is the next snapshot minus its own (the open bucket
// uses the live counters), so recording a request never touches the timeline.
// At most kBucketCount + 1 snapshots are kept; each holds one count and one
// latency histogram per model series (at most kMaxModelSeries).
//
// Thread-safety: safe for concurrent use (one mutex, taken by the ticker and
// by readers, never by the request path).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <vector>

#include "aegis/common/mutex.h"
#include "aegis/common/thread_annotations.h"
#include "counters.h"
#include "latency_histogram.h"

namespace aegis::monitor::internal {

inline constexpr int64_t kBucketSeconds = 5;
inline constexpr size_t kBucketCount = 180;  // 15 minutes
// The dashboard's auth_failures keys, in AuthMethod order.
inline constexpr size_t kDashboardAuthMethods = 5;  // token, session, jwt, mtls, password

struct Snapshot {
  int64_t bucket = 0;  // unix seconds / kBucketSeconds
  uint64_t allowed = 0, denied = 0;
  std::array<uint64_t, kDashboardAuthMethods> auth_failures{};
  std::vector<uint64_t> model_requests;        // by series slot
  std::vector<uint64_t> model_errors;          // by series slot: answered 5xx
  std::vector<HistogramCounts> model_latency;  // by series slot
};

// What the dashboard draws, oldest bucket first; every vector has kBucketCount entries.
struct Series {
  std::vector<int64_t> time;  // bucket start, unix seconds
  std::vector<uint64_t> allowed, denied;
  std::array<std::vector<uint64_t>, kDashboardAuthMethods> auth_failures;
  std::vector<std::vector<uint64_t>> model_requests;  // by slot
  // Per slot: latency over the whole window, and requests in the last 60 s.
  std::vector<HistogramCounts> model_latency;
  std::vector<uint64_t> model_last_minute;
  std::vector<uint64_t> model_errors_last_minute;  // of those, answered 5xx
  double last_minute_seconds = 0;                  // the span model_last_minute covers (shorter just after start)
  Snapshot live;  // the counters the open bucket was measured with (the dashboard's totals)
};

Snapshot TakeSnapshot(const Counters& counters, int64_t bucket);

class Timeline {
 public:
  // Records the snapshot of every bucket that began by `now` and has none yet.
  void Tick(const Counters& counters, std::chrono::system_clock::time_point now) AEGIS_EXCLUDES(mu_);
  // Ticks, then the window ending with the bucket open at `now`.
  Series Read(const Counters& counters, std::chrono::system_clock::time_point now) AEGIS_EXCLUDES(mu_);

 private:
  // The snapshot taken when `bucket` began, if kept.
  const Snapshot* SnapshotAt(int64_t bucket) const AEGIS_REQUIRES(mu_);

  Mutex mu_;
  std::deque<Snapshot> snapshots_ AEGIS_GUARDED_BY(mu_);  // consecutive buckets, oldest first
};

}  // namespace aegis::monitor::internal
