#include "aegis/audit/event.h"

namespace aegis::audit {

// The strings below are the log's on-disk format: changing one would make every
// existing log read differently (and break the tools that parse it).

std::string_view DecisionName(Decision decision) {
  switch (decision) {
    case Decision::kAllow:
      return "allow";
    case Decision::kDeny:
      return "deny";
  }
  return "deny";
}

std::string_view ListenerName(Listener listener) {
  switch (listener) {
    case Listener::kData:
      return "data";
    case Listener::kAdmin:
      return "admin";
    case Listener::kCli:
      return "cli";
    case Listener::kMetrics:
      return "metrics";
  }
  return "cli";
}

std::string_view SystemActionName(SystemAction action) {
  switch (action) {
    case SystemAction::kServerInit:
      return "server.init";
    case SystemAction::kServerStart:
      return "server.start";
    case SystemAction::kServerStop:
      return "server.stop";
    case SystemAction::kModelLoadFailed:
      return "model.load_failed";
    case SystemAction::kAuditStart:
      return "audit.start";
    case SystemAction::kAuditStop:
      return "audit.stop";
    case SystemAction::kAuditKeyCreated:
      return "audit.key_created";
    case SystemAction::kAuditVerifyFailed:
      return "audit.verify_failed";
    case SystemAction::kAuditSinkDrop:
      return "audit.sink_drop";
    case SystemAction::kAuditArchive:
      return "audit.archive";
    case SystemAction::kAuditPrune:
      return "audit.prune";
    case SystemAction::kRuntimeWorkerCrashed:
      return "runtime.worker_crashed";
    case SystemAction::kRuntimeWorkerTimedOut:
      return "runtime.worker_timed_out";
    case SystemAction::kRuntimeProtocolViolation:
      return "runtime.protocol_violation";
    case SystemAction::kRuntimeSandboxViolation:
      return "runtime.sandbox_violation";
    case SystemAction::kRuntimeWorkerRestarted:
      return "runtime.worker_restarted";
    case SystemAction::kModelWithdrawn:
      return "model.withdrawn";
    case SystemAction::kHttpConnectionLimit:
      return "http.connection_limit";
    case SystemAction::kIncidentOpened:
      return "incident.opened";
    case SystemAction::kIncidentUpdated:
      return "incident.updated";
    case SystemAction::kIncidentResponse:
      return "incident.response";
    case SystemAction::kIncidentAcknowledged:
      return "incident.acknowledged";
    case SystemAction::kIncidentResolved:
      return "incident.resolved";
    case SystemAction::kConfigReload:
      return "config.reload";
    case SystemAction::kStoreMigrate:
      return "store.migrate";
  }
  return "unknown";
}

AuditEvent SystemEvent(std::chrono::system_clock::time_point time, SystemAction action, std::string resource,
                       std::string reason, Decision decision) {
  AuditEvent e;
  e.time = time;
  e.principal = "system";
  e.action = std::string(SystemActionName(action));
  e.resource = std::move(resource);
  e.decision = decision;
  e.listener = Listener::kCli;
  e.reason = std::move(reason);
  return e;
}

}  // namespace aegis::audit
