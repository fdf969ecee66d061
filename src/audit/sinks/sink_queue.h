// The parts every audit sink shares (internal to src/audit/sinks): the bounded queue
// between the audit writer thread and the sink's own thread, the drop reporter
// that turns counted drops into at most one callback per interval, and the
// retry back-off.
//
// Thread-safety: SinkQueue is safe for concurrent use (one producer, the writer
// thread; one consumer, the sink thread; Stats readers; Close from the owner).
// DropReporter and Backoff belong to the sink thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "aegis/common/mutex.h"
#include "aegis/common/thread_annotations.h"

namespace aegis::audit::internal {

using SteadyTime = std::chrono::steady_clock::time_point;

struct SinkItem {
  bool head = false;  // a signed tree head rather than an event
  std::string json;
};

class SinkQueue {
 public:
  // At most `max_items` items and `max_bytes` bytes of JSON wait at any time.
  SinkQueue(size_t max_items, size_t max_bytes) : max_items_(max_items), max_bytes_(max_bytes) {}

  // Never waits for the consumer: when the queue is full or closed the item is
  // dropped and counted. Returns whether it was queued.
  bool Push(bool head, std::string_view json) AEGIS_EXCLUDES(mu_);

  // Waits until `min_items` are queued, `until` passes or the queue is closed,
  // then moves up to `max_items` items into `out` (appended). Returns how many.
  size_t Pop(std::vector<SinkItem>& out, size_t max_items, size_t min_items, SteadyTime until) AEGIS_EXCLUDES(mu_);

  // Sleeps until `until` or until the queue is closed; true when closed.
  bool WaitClosed(SteadyTime until) AEGIS_EXCLUDES(mu_);

  // Refuses further pushes and wakes the consumer, which then drains what is
  // queued, delivering until `drain_until` at the latest.
  void Close(SteadyTime drain_until = SteadyTime::max()) AEGIS_EXCLUDES(mu_);
  bool closed() const AEGIS_EXCLUDES(mu_);
  // When the consumer must give up delivering: SteadyTime::max() while open,
  // the Close() argument once closed.
  SteadyTime drain_deadline() const AEGIS_EXCLUDES(mu_);

  // Counts `n` items given up on by the consumer (refused, abandoned at stop).
  void AddDropped(uint64_t n) { dropped_ += n; }
  // Drops and counts everything still queued; returns how many.
  size_t DropAll() AEGIS_EXCLUDES(mu_);

  uint64_t dropped() const { return dropped_.load(); }
  size_t size() const AEGIS_EXCLUDES(mu_);

 private:
  const size_t max_items_;
  const size_t max_bytes_;
  mutable Mutex mu_;
  CondVar wake_;  // the consumer waits: items queued, or closed
  std::deque<SinkItem> items_ AEGIS_GUARDED_BY(mu_);
  size_t bytes_ AEGIS_GUARDED_BY(mu_) = 0;
  bool closed_ AEGIS_GUARDED_BY(mu_) = false;
  SteadyTime drain_deadline_ AEGIS_GUARDED_BY(mu_) = SteadyTime::max();
  std::atomic<uint64_t> dropped_{0};
};

// Calls `report(n)` with the drops since the previous report, at most once per
// `interval`, and once more at the end (Final) if some are still unreported.
class DropReporter {
 public:
  using Callback = std::function<void(uint64_t newly_dropped)>;
  explicit DropReporter(Callback report, std::chrono::steady_clock::duration interval = std::chrono::seconds(10))
      : report_(std::move(report)), interval_(interval) {}

  void Poll(uint64_t dropped_total, SteadyTime now);
  void Final(uint64_t dropped_total);

 private:
  Callback report_;
  const std::chrono::steady_clock::duration interval_;
  uint64_t reported_ = 0;
  bool ever_reported_ = false;
  SteadyTime last_report_{};
};

// Exponential back-off with jitter: the n-th consecutive failure waits a random
// time in [base/2, base], base = initial * 2^(n-1) capped at `max`. The jitter
// keeps many servers that lost the same collector from reconnecting in lockstep.
class Backoff {
 public:
  // `uniform` returns a number in [0, 1); tests pass a fixed one.
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max, std::function<double()> uniform = {});

  std::chrono::milliseconds Next();  // the delay before the next attempt
  void Reset() { attempt_ = 0; }
  int attempt() const { return attempt_; }

 private:
  const std::chrono::milliseconds initial_, max_;
  std::function<double()> uniform_;
  int attempt_ = 0;
};

}  // namespace aegis::audit::internal
