#include "sink_queue.h"

#include <algorithm>
#include <random>

namespace aegis::audit::internal {

bool SinkQueue::Push(bool head, std::string_view json) {
  {
    MutexLock lock(mu_);
    if (!closed_ && items_.size() < max_items_ && bytes_ + json.size() <= max_bytes_) {
      items_.push_back(SinkItem{head, std::string(json)});
      bytes_ += json.size();
      // Notify under the lock: the consumer may be tearing the queue down right after.
      wake_.NotifyOne();
      return true;
    }
  }
  ++dropped_;
  return false;
}

size_t SinkQueue::Pop(std::vector<SinkItem>& out, size_t max_items, size_t min_items, SteadyTime until) {
  MutexLock lock(mu_);
  min_items = std::max<size_t>(1, std::min(min_items, max_items));
  while (!closed_ && items_.size() < min_items) {
    if (wake_.WaitUntil(mu_, until) == std::cv_status::timeout) break;
  }
  const size_t n = std::min(max_items, items_.size());
  for (size_t i = 0; i < n; ++i) {
    bytes_ -= items_.front().json.size();
    out.push_back(std::move(items_.front()));
    items_.pop_front();
  }
  return n;
}

bool SinkQueue::WaitClosed(SteadyTime until) {
  MutexLock lock(mu_);
  while (!closed_) {
    if (wake_.WaitUntil(mu_, until) == std::cv_status::timeout) break;
  }
  return closed_;
}

void SinkQueue::Close(SteadyTime drain_until) {
  MutexLock lock(mu_);
  closed_ = true;
  drain_deadline_ = drain_until;
  wake_.NotifyAll();
}

bool SinkQueue::closed() const {
  MutexLock lock(mu_);
  return closed_;
}

SteadyTime SinkQueue::drain_deadline() const {
  MutexLock lock(mu_);
  return drain_deadline_;
}

size_t SinkQueue::DropAll() {
  MutexLock lock(mu_);
  const size_t n = items_.size();
  items_.clear();
  bytes_ = 0;
  dropped_ += n;
  return n;
}

size_t SinkQueue::size() const {
  MutexLock lock(mu_);
  return items_.size();
}

void DropReporter::Poll(uint64_t dropped_total, SteadyTime now) {
  if (dropped_total <= reported_) return;
  if (ever_reported_ && now - last_report_ < interval_) return;
  const uint64_t n = dropped_total - reported_;
  reported_ = dropped_total;
  ever_reported_ = true;
  last_report_ = now;
  if (report_) report_(n);
}

void DropReporter::Final(uint64_t dropped_total) {
  if (dropped_total <= reported_) return;
  const uint64_t n = dropped_total - reported_;
  reported_ = dropped_total;
  if (report_) report_(n);
}

Backoff::Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max, std::function<double()> uniform)
    : initial_(initial), max_(max), uniform_(std::move(uniform)) {
  if (!uniform_) {
    // Jitter only spreads reconnects; it needs no cryptographic randomness.
    auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
    uniform_ = [engine] { return std::uniform_real_distribution<double>(0.0, 1.0)(*engine); };
  }
}

std::chrono::milliseconds Backoff::Next() {
  auto base = initial_;
  for (int i = 0; i < attempt_ && base < max_; ++i) base *= 2;
  base = std::min(base, max_);
  if (attempt_ < 64) ++attempt_;
  const double u = std::clamp(uniform_(), 0.0, 1.0);
  const auto half = base / 2;
  return half + std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>((base - half).count()) * u));
}

}  // namespace aegis::audit::internal
