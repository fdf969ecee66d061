// Summarizer (internal to src/audit): [audit] inference_events = "summary".
// Counts the successful requests of one action (inference) instead of writing
// each: one summary event per principal × resource (model and version) ×
// source address × window, with counts by HTTP status and latency quantiles.
// Every other event — a denial, any 4xx/5xx, an event with a reason, another
// action — passes through untouched and keeps its own line.
//
// A window [t, t + window) is summarized once the clock is past its end plus a
// short grace for events still on their way to the writer; a straggler after
// that opens a second summary for the same window (counted, never lost).
// CloseAll writes every open window at once (shutdown, FlushSummaries).
//
// Thread-safety: thread-compatible; the audit writer thread owns it.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "aegis/audit/event.h"

namespace aegis::audit::internal {

class Summarizer {
 public:
  using TimePoint = std::chrono::system_clock::time_point;

  // `action` is the request action summarized ("infer"); its summaries are
  // written as `action` + ".summary".
  Summarizer(std::string action, std::chrono::milliseconds window);

  // Takes the events of `batch` that it summarizes out of it (the others keep
  // their order); returns how many it took.
  size_t Absorb(std::deque<AuditEvent>& batch);

  // Appends to `out` the summaries of the windows that ended before `now` minus
  // the grace, or of every window when `all`; returns how many.
  size_t Drain(TimePoint now, bool all, std::deque<AuditEvent>& out);

  // When the oldest open window is due (nullopt when none is open).
  std::optional<TimePoint> NextDue() const;

  // How long after its end a window waits for events still in flight.
  static constexpr std::chrono::milliseconds kGrace{200};

 private:
  // principal, auth method, grant, resource, listener, source address (no port).
  using Key = std::tuple<std::string, std::string, std::string, std::string, Listener, std::string>;
  struct Window {
    std::vector<int64_t> latencies_us;
    std::map<int, uint64_t> statuses;
  };

  bool Summarizes(const AuditEvent& event) const;
  AuditEvent SummaryOf(TimePoint start, const Key& key, Window& window) const;

  const std::string action_;
  const std::string summary_action_;
  const std::chrono::milliseconds window_;
  // By window start, then key: drained oldest first, in a stable order.
  std::map<TimePoint, std::map<Key, Window>> open_;
};

// The host part of "ip:port" / "[v6]:port" (the whole string when it has no port).
std::string RemoteHost(const std::string& remote);

}  // namespace aegis::audit::internal
