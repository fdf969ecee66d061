// QueuedSink: what every SIEM sink shares (internal to src/audit/sinks) — the bounded
// queue the audit writer offers to without ever waiting, the delivery counters,
// and a delivery thread that Stop() lets drain until a deadline, then joins.
//
// A sink derives from QueuedSink<ItsPublicInterface>, implements Run() (the
// delivery loop: pop from queue_, deliver, count), calls Start() at the end of
// its constructor and Stop() in its destructor (the thread uses the derived
// object's members, which are gone by the time ~QueuedSink runs).
//
// Thread-safety: Offer/OfferHead from the audit writer; Stats/Stop from anywhere.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <thread>

#include "aegis/audit/sink.h"
#include "sink_queue.h"
#include "sink_thread.h"

namespace aegis::audit::internal {

inline constexpr size_t kMaxSinkQueueBytes = 64u << 20;

template <typename Interface>
class QueuedSink : public Interface {
 public:
  void Offer(std::string_view event_json) override { queue_.Push(false, event_json); }
  void OfferHead(std::string_view head_json) override { queue_.Push(true, head_json); }

  SinkStats Stats() const override {
    SinkStats s;
    s.delivered = delivered_.load();
    s.dropped = queue_.dropped();
    s.queued = queue_.size() + in_hand_.load();
    s.failures = failures_.load();
    return s;
  }

  void Stop() override {
    std::call_once(stopped_, [this] {
      queue_.Close(std::chrono::steady_clock::now() + stop_drain_);
      if (thread_.joinable()) thread_.join();
    });
  }

 protected:
  QueuedSink(size_t queue_size, std::chrono::milliseconds stop_drain)
      : queue_(queue_size, kMaxSinkQueueBytes), stop_drain_(stop_drain) {}

  void Start() {
    thread_ = StartSinkThread([this] { Run(); });
  }
  virtual void Run() = 0;

  // Sleeps the back-off delay, reporting drops meanwhile. Stop wakes it for one
  // immediate attempt; after that the pauses end at the drain deadline.
  void WaitBeforeRetry(Backoff& backoff, DropReporter& reporter) {
    using Steady = std::chrono::steady_clock;
    auto until = Steady::now() + backoff.Next();
    for (;;) {
      const auto now = Steady::now();
      const bool closed = queue_.closed();
      until = std::min(until, queue_.drain_deadline());
      if (now >= until) return;
      const auto step = std::min<SteadyTime>(until, now + std::chrono::seconds(1));
      if (closed) {
        std::this_thread::sleep_until(step);
      } else if (queue_.WaitClosed(step)) {
        return;
      }
      reporter.Poll(queue_.dropped(), Steady::now());
    }
  }

  SinkQueue queue_;
  std::atomic<uint64_t> delivered_{0}, failures_{0};
  std::atomic<size_t> in_hand_{0};

 private:
  const std::chrono::milliseconds stop_drain_;
  std::once_flag stopped_;
  std::thread thread_;
};

}  // namespace aegis::audit::internal
