// ControlPlane: management endpoints on the admin listener (loopback by default).
//
//   PUT    /v1/models/{name}/versions/{version}?format=onnx|torchscript|xgboost
//          body: the model file, streamed into the encrypted store
//   GET    /v1/models
//   DELETE /v1/models/{name}/versions/{version}
//   GET    /v1/audit?limit=N
//   GET    /, /dashboard/app.js, /dashboard/app.css   the live dashboard's static files
//
// Every endpoint needs a credential except POST /v1/login and the dashboard's
// static files (they hold no data; they carry a strict Content-Security-Policy).
// Every request ends in one audit event.
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
