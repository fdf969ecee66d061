// AuditSink: a destination outside the server (a SIEM) that receives a copy of
// every audit event after it is durable in the local log, and every signed tree
// head. Delivery is best effort: the local log under DIR/audit/ is the source of
// truth; a sink that cannot keep up drops events and counts them.
//
// Implementations: SyslogSink (RFC 5424 over UDP, TCP or TLS; syslog_sink.h) and
// WebhookSink (HTTPS POST of JSON batches; webhook_sink.h).
//
// Thread-safety: Offer and OfferHead are called from the audit writer thread, Stats
// from any thread, Stop once from the owner; each implementation delivers from its
// own thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace aegis::audit {

struct SinkStats {
  uint64_t delivered = 0;  // events and heads the destination accepted
  uint64_t dropped = 0;    // given up on: queue full, refused by the destination, left at Stop
  uint64_t queued = 0;     // waiting to be delivered now
  uint64_t failures = 0;   // failed delivery attempts (connection errors, refusals)
};

class AuditSink {
 public:
  virtual ~AuditSink() = default;
  virtual std::string_view name() const = 0;  // "syslog", "webhook"
  // Called from the audit writer thread; must never block (bounded queue, drop + count when full).
  virtual void Offer(std::string_view event_json) = 0;
  virtual void OfferHead(std::string_view head_json) = 0;  // signed tree heads (forward them too)
  virtual SinkStats Stats() const = 0;
  virtual void Stop() = 0;  // drain what it can (bounded time), join threads
};

}  // namespace aegis::audit
