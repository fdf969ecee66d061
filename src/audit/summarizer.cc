#include "summarizer.h"

#include <algorithm>

namespace aegis::audit::internal {
namespace {

// Nearest-rank quantile of sorted values: the smallest value with at least q of
// them at or below it.
int64_t Quantile(const std::vector<int64_t>& sorted, double q) {
  const auto n = static_cast<double>(sorted.size());
  auto rank = static_cast<size_t>(q * n);
  if (static_cast<double>(rank) < q * n) ++rank;  // ceil
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

}  // namespace

std::string RemoteHost(const std::string& remote) {
  const size_t colon = remote.rfind(':');
  if (colon == std::string::npos) return remote;
  // "[::1]:443" keeps its brackets; a bare IPv6 address without a port is whole.
  if (remote.front() == '[') return remote[colon - 1] == ']' ? remote.substr(0, colon) : remote;
  if (remote.find(':') != colon) return remote;
  return remote.substr(0, colon);
}

Summarizer::Summarizer(std::string action, std::chrono::milliseconds window)
    : action_(std::move(action)), summary_action_(action_ + ".summary"), window_(window) {}

bool Summarizer::Summarizes(const AuditEvent& e) const {
  // Only what an auditor reads in bulk: allowed, successful, nothing to say.
  return e.action == action_ && e.decision == Decision::kAllow && e.status >= 200 && e.status < 400 &&
         e.reason.empty() && !e.summary;
}

size_t Summarizer::Absorb(std::deque<AuditEvent>& batch) {
  size_t taken = 0;
  auto keep = batch.begin();
  for (auto it = batch.begin(); it != batch.end(); ++it) {
    if (!Summarizes(*it)) {
      if (keep != it) *keep = std::move(*it);
      ++keep;
      continue;
    }
    const auto since_epoch = std::chrono::duration_cast<std::chrono::milliseconds>(it->time.time_since_epoch());
    const TimePoint start(since_epoch - since_epoch % window_);
    Key key{std::move(it->principal),
            std::move(it->auth_method),
            std::move(it->grant),
            std::move(it->resource),
            it->listener,
            RemoteHost(it->remote)};
    Window& w = open_[start][std::move(key)];
    w.latencies_us.push_back(it->latency_us);
    ++w.statuses[it->status];
    ++taken;
  }
  batch.erase(keep, batch.end());
  return taken;
}

AuditEvent Summarizer::SummaryOf(TimePoint start, const Key& key, Window& w) const {
  AuditEvent e;
  e.time = start;
  std::tie(e.principal, e.auth_method, e.grant, e.resource, e.listener, e.remote) = key;
  e.action = summary_action_;
  e.decision = Decision::kAllow;
  EventSummary s;
  s.window_ms = window_.count();
  s.count = w.latencies_us.size();
  s.statuses.assign(w.statuses.begin(), w.statuses.end());
  std::sort(w.latencies_us.begin(), w.latencies_us.end());
  s.p50_us = Quantile(w.latencies_us, 0.50);
  s.p90_us = Quantile(w.latencies_us, 0.90);
  s.p99_us = Quantile(w.latencies_us, 0.99);
  s.max_us = w.latencies_us.back();
  // The members every event has: the most frequent status and the highest latency.
  e.status = std::max_element(w.statuses.begin(), w.statuses.end(), [](const auto& a, const auto& b) {
               return a.second < b.second;
             })->first;
  e.latency_us = s.max_us;
  e.summary = std::move(s);
  return e;
}

size_t Summarizer::Drain(TimePoint now, bool all, std::deque<AuditEvent>& out) {
  size_t written = 0;
  while (!open_.empty()) {
    auto oldest = open_.begin();
    if (!all && oldest->first + window_ + kGrace > now) break;
    for (auto& [key, window] : oldest->second) {
      out.push_back(SummaryOf(oldest->first, key, window));
      ++written;
    }
    open_.erase(oldest);
  }
  return written;
}

std::optional<Summarizer::TimePoint> Summarizer::NextDue() const {
  if (open_.empty()) return std::nullopt;
  return open_.begin()->first + window_ + kGrace;
}

}  // namespace aegis::audit::internal
