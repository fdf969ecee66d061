// ControlPlane: management endpoints on the admin listener (loopback by default).
//
//   GET    /metrics                                   Prometheus exposition (metrics.read)
//   GET    /v1/dashboard                              the live dashboard's data (metrics.read)
//   GET    /v1/models                                 the models in the caller's scope
//   PUT    /v1/models/{name}/versions/{version}?format=onnx|torchscript|xgboost
//          body: the model file, streamed into the encrypted store
//   DELETE /v1/models/{name}/versions/{version}
//   GET    /v1/audit?limit=N[&from_seq=N][&since=T]
//   GET    /v1/trust, PUT|DELETE /v1/trust/{name}     the trust store
//   GET|POST /v1/tokens, DELETE /v1/tokens/{id}       API tokens
//   GET|POST /v1/users, POST /v1/users/{name}/disable people
//   POST   /v1/login, POST /v1/logout, GET /v1/whoami
//   GET|HEAD /, /dashboard/app.js, /dashboard/app.css the live dashboard's static files
//
// The table in control_plane.cc is the authority: each row names the action
// audited and the permission the policy checks. POST /v1/login and the
// dashboard's static files are anonymous (they hold no data; the files carry a
// strict Content-Security-Policy); logout and whoami need any credential;
// everything else a principal with a control-plane role whose grants allow the
// row's action. Unknown paths get 404, a known path with another method 405
// with Allow (after authentication and authorization). Every request ends in
// one audit event.
//
// Thread-safety: Begin and OnRejected are safe for concurrent use.
#pragma once

#include "aegis/api/services.h"
#include "aegis/http/message.h"

namespace aegis::api {

class ControlPlane final : public http::Dispatcher {
 public:
  explicit ControlPlane(const Services& services) : services_(services) {}
  http::Plan Begin(const http::RequestHead& head) override;
  void OnRejected(const http::RequestHead& head, int status, std::string_view reason) override;

 private:
  Services services_;
};

}  // namespace aegis::api
