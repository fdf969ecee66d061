#include "timeline.h"

#include <algorithm>

namespace aegis::monitor::internal {
namespace {

constexpr int64_t kRateBuckets = 12;  // requests_per_second: the last minute

int64_t BucketOf(std::chrono::system_clock::time_point now) {
  const int64_t seconds = std::chrono::floor<std::chrono::seconds>(now.time_since_epoch()).count();
  return seconds >= 0 ? seconds / kBucketSeconds : (seconds - kBucketSeconds + 1) / kBucketSeconds;
}

uint64_t Delta(uint64_t later, uint64_t earlier) { return later >= earlier ? later - earlier : 0; }

uint64_t At(const std::vector<uint64_t>& v, size_t i) { return i < v.size() ? v[i] : 0; }

}  // namespace

Snapshot TakeSnapshot(const Counters& counters, int64_t bucket) {
  Snapshot s;
  s.bucket = bucket;
  s.allowed = counters.allowed.load(std::memory_order_relaxed);
  s.denied = counters.denied.load(std::memory_order_relaxed);
  for (size_t m = 0; m < kDashboardAuthMethods; ++m) {
    s.auth_failures[m] = counters.auth[m][1].load(std::memory_order_relaxed);
  }
  const auto all = counters.All();
  s.model_requests.resize(all.size());
  s.model_errors.resize(all.size());
  s.model_latency.resize(all.size());
  for (const ModelSeries* series : all) {
    s.model_requests[series->slot] = series->total.load(std::memory_order_relaxed);
    s.model_errors[series->slot] = series->errors.load(std::memory_order_relaxed);
    s.model_latency[series->slot] = series->latency.Read();
  }
  return s;
}

void Timeline::Tick(const Counters& counters, std::chrono::system_clock::time_point now) {
  const int64_t current = BucketOf(now);
  MutexLock lock(mu_);
  if (!snapshots_.empty() && snapshots_.back().bucket >= current) return;
  Snapshot snap = TakeSnapshot(counters, current);
  // Buckets the ticker missed (a stalled machine) get the same snapshot: their
  // counts land in the last bucket that had one.
  if (!snapshots_.empty() && current - snapshots_.back().bucket > static_cast<int64_t>(kBucketCount)) {
    snapshots_.clear();
  }
  const int64_t first = snapshots_.empty() ? current : snapshots_.back().bucket + 1;
  for (int64_t b = first; b < current; ++b) {
    Snapshot gap = snap;
    gap.bucket = b;
    snapshots_.push_back(std::move(gap));
  }
  snapshots_.push_back(std::move(snap));
  while (snapshots_.size() > kBucketCount) snapshots_.pop_front();
}

const Snapshot* Timeline::SnapshotAt(int64_t bucket) const {
  if (snapshots_.empty() || bucket < snapshots_.front().bucket || bucket > snapshots_.back().bucket) return nullptr;
  return &snapshots_[static_cast<size_t>(bucket - snapshots_.front().bucket)];
}

Series Timeline::Read(const Counters& counters, std::chrono::system_clock::time_point now) {
  Tick(counters, now);
  const int64_t current = BucketOf(now);
  const Snapshot live = TakeSnapshot(counters, current + 1);
  const size_t slots = live.model_requests.size();
  MutexLock lock(mu_);
  const int64_t oldest = current - static_cast<int64_t>(kBucketCount) + 1;

  Series out;
  out.time.reserve(kBucketCount);
  out.allowed.assign(kBucketCount, 0);
  out.denied.assign(kBucketCount, 0);
  for (auto& v : out.auth_failures) v.assign(kBucketCount, 0);
  out.model_requests.assign(slots, std::vector<uint64_t>(kBucketCount, 0));
  for (size_t i = 0; i < kBucketCount; ++i) {
    const int64_t b = oldest + static_cast<int64_t>(i);
    out.time.push_back(b * kBucketSeconds);
    const Snapshot* start = SnapshotAt(b);
    if (start == nullptr) continue;  // before the server started
    const Snapshot* end = b == current ? &live : SnapshotAt(b + 1);
    if (end == nullptr) end = &live;
    out.allowed[i] = Delta(end->allowed, start->allowed);
    out.denied[i] = Delta(end->denied, start->denied);
    for (size_t m = 0; m < kDashboardAuthMethods; ++m) {
      out.auth_failures[m][i] = Delta(end->auth_failures[m], start->auth_failures[m]);
    }
    for (size_t s = 0; s < slots; ++s) {
      out.model_requests[s][i] = Delta(At(end->model_requests, s), At(start->model_requests, s));
    }
  }

  // Latency over the window, rate over the last minute (or since start).
  const Snapshot* window_start = SnapshotAt(std::max(oldest, snapshots_.empty() ? current : snapshots_.front().bucket));
  const Snapshot* rate_start =
      SnapshotAt(std::max(current - kRateBuckets + 1, snapshots_.empty() ? current : snapshots_.front().bucket));
  out.model_latency.resize(slots);
  out.model_last_minute.resize(slots);
  out.model_errors_last_minute.resize(slots);
  for (size_t s = 0; s < slots; ++s) {
    const bool in_window = window_start != nullptr && s < window_start->model_latency.size();
    out.model_latency[s] =
        in_window ? live.model_latency[s].Minus(window_start->model_latency[s]) : live.model_latency[s];
    out.model_last_minute[s] =
        Delta(live.model_requests[s], rate_start != nullptr ? At(rate_start->model_requests, s) : 0);
    out.model_errors_last_minute[s] =
        Delta(live.model_errors[s], rate_start != nullptr ? At(rate_start->model_errors, s) : 0);
  }
  if (rate_start != nullptr) {
    const auto begin = std::chrono::system_clock::time_point(std::chrono::seconds(rate_start->bucket * kBucketSeconds));
    out.last_minute_seconds = std::chrono::duration<double>(now - begin).count();
  }
  out.live = live;
  return out;
}

}  // namespace aegis::monitor::internal
