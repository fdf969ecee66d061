// AuditSink: a copy of the audit stream for a SIEM (syslog, webhook). The local
// log stays the source of truth; sinks are best effort after durability.
//
// Thread-safety: Offer/OfferHead are called from the audit writer thread only;
// Stats and Stop may be called from any thread.
#pragma once

#include <cstdint>
#include <string_view>

namespace aegis::audit {

struct SinkStats {
  uint64_t delivered = 0;
  uint64_t dropped = 0;
  uint64_t queued = 0;
  uint64_t failures = 0;
};

class AuditSink {
 public:
  virtual ~AuditSink() = default;
  virtual std::string_view name() const = 0;  // "syslog", "webhook"
  // Must never block the writer: a bounded queue, drop and count when full.
  virtual void Offer(std::string_view event_json) = 0;
  virtual void OfferHead(std::string_view head_json) = 0;
  virtual SinkStats Stats() const = 0;
  // Drains what it can in bounded time and joins its threads.
  virtual void Stop() = 0;
};

}  // namespace aegis::audit
