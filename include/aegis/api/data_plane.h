// DataPlane: the KServe v2 REST endpoints on the data listener.
//
//   GET  /v2                                   server metadata
//   GET  /v2/health/live | /v2/health/ready    (no authentication)
//   GET  /v2/models/{m}[/versions/{v}]         model metadata
//   GET  /v2/models/{m}[/versions/{v}]/ready  (no authentication with
//                                              public_model_ready)
//   POST /v2/models/{m}[/versions/{v}]/infer
//
// Stages per request, in order: route (the table in data_plane.cc: unknown path
// 404) → authenticate (bearer token, JWT or client certificate: 401) →
// authorize the route's action (403) → method (405 with Allow) → find the model
// → plan the body → [worker pool] decode → validate against the signature →
// queue for one of the model's instances → [the instance's driver thread, when
// the engine runs in a confined worker process] encode the answer. Every request
// ends in exactly one audit event.
//
// Thread-safety: Begin and OnRejected are safe for concurrent use.
#pragma once

#include <utility>

#include "aegis/api/cors_policy.h"
#include "aegis/api/services.h"
#include "aegis/http/message.h"

namespace aegis::api {

// What [server] sets for the data plane alone.
struct DataPlaneOptions {
  // Per-model readiness answers without a credential (audited as
  // "model.ready_public"); off, it needs the model.ready grant like metadata.
  // Anyone who reaches the listener then learns which model names exist.
  bool public_model_ready = false;
  // Cross-origin calls from browsers ([server] cors_origins); off by default.
  // A preflight is answered (and audited as "cors.preflight") before routing.
  CorsPolicy cors;
};

class DataPlane final : public http::Dispatcher {
 public:
  explicit DataPlane(const Services& services, DataPlaneOptions options = {})
      : services_(services), options_(std::move(options)) {}
  http::Plan Begin(const http::RequestHead& head) override;
  void OnRejected(const http::RequestHead& head, int status, std::string_view reason) override;

 private:
  Services services_;
  DataPlaneOptions options_;
};

}  // namespace aegis::api
