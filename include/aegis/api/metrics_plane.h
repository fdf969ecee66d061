// MetricsPlane: the dedicated metrics listener ([metrics] listen), off unless
// configured. It answers exactly one thing, GET /metrics, without a bearer
// token, so that Prometheus can scrape without holding a credential of the
// control plane; every other method and path is 404, and nothing else of the
// server is reachable through it. Who may connect is decided below HTTP: keep it
// on loopback or a monitoring network, and with [metrics] client_ca the TLS
// handshake refuses any client without a certificate from that CA.
//
// An answered scrape is counted (aegis_metrics_scrapes_total{listener="metrics"})
// rather than audited; everything else it answers (404s, errors) and every
// request the HTTP layer refuses on it is audited with listener "metrics".
//
// Thread-safety: Begin and OnRejected are safe for concurrent use.
#pragma once

#include "aegis/api/services.h"
#include "aegis/http/message.h"

namespace aegis::api {

class MetricsPlane final : public http::Dispatcher {
 public:
  explicit MetricsPlane(const Services& services) : services_(services) {}
  http::Plan Begin(const http::RequestHead& head) override;
  void OnRejected(const http::RequestHead& head, int status, std::string_view reason) override;

 private:
  Services services_;
};

}  // namespace aegis::api
