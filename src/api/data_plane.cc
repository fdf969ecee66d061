#include "aegis/api/data_plane.h"

#include "aegis/api/v2_codec.h"
#include "model_json.h"
#include "request_pipeline.h"

namespace aegis::api {
namespace {

using internal::Json;

enum class RouteKind { kServerMetadata, kLive, kReady, kModelMetadata, kModelReady, kInfer };

struct Route {
  RouteKind kind;
  std::string model;
  std::string version;  // empty: newest
};

// Matches the KServe v2 paths; nullopt for anything else.
std::optional<Route> MatchRoute(std::string_view path) {
  auto segs = internal::SplitPath(path);
  if (!segs || segs->empty() || (*segs)[0] != "v2") return std::nullopt;
  const auto& s = *segs;
  if (s.size() == 1) return Route{RouteKind::kServerMetadata, {}, {}};
  if (s.size() == 3 && s[1] == "health") {
    if (s[2] == "live") return Route{RouteKind::kLive, {}, {}};
    if (s[2] == "ready") return Route{RouteKind::kReady, {}, {}};
    return std::nullopt;
  }
  if (s[1] != "models" || s.size() < 3) return std::nullopt;
  Route route{RouteKind::kModelMetadata, std::string(s[2]), {}};
  size_t next = 3;
  if (s.size() >= 5 && s[3] == "versions") {
    route.version = std::string(s[4]);
    next = 5;
  }
  if (s.size() == next) return route;
  if (s.size() == next + 1 && s[next] == "ready") {
    route.kind = RouteKind::kModelReady;
    return route;
  }
  if (s.size() == next + 1 && s[next] == "infer") {
    route.kind = RouteKind::kInfer;
    return route;
  }
  return std::nullopt;
}

// What a route does: audited and authorized under this one name.
policy::Action ActionOf(RouteKind kind) {
  switch (kind) {
    case RouteKind::kServerMetadata:
      return policy::Action::kServerMetadata;
    case RouteKind::kLive:
      return policy::Action::kServerLive;
    case RouteKind::kReady:
      return policy::Action::kServerReady;
    case RouteKind::kModelMetadata:
      return policy::Action::kModelMetadata;
    case RouteKind::kModelReady:
      return policy::Action::kModelReady;
    case RouteKind::kInfer:
      return policy::Action::kInfer;
  }
  return policy::Action::kServerMetadata;
}

std::string ResourceOf(const Route& route) {
  if (route.model.empty()) return "server";
  return "model:" + route.model + (route.version.empty() ? "" : "/versions/" + route.version);
}

http::Response JsonResponse(const Json& json) { return http::Response::Json(200, internal::Dump(json)); }

http::Response ServerMetadata() {
  return JsonResponse({{"name", "aegis"}, {"version", "0.1.0"}, {"extensions", Json::array({"binary_tensor_data"})}});
}

http::Response ModelMetadata(const Services& services, const Route& route) {
  auto entry = services.registry->FindEntry(route.model);
  if (!entry.ok()) return http::Response::Error(entry.status());
  auto model = services.registry->Find(route.model, route.version);
  if (!model.ok()) return http::Response::Error(model.status());
  Json versions = Json::array();
  for (const auto& [v, m] : (*entry)->versions) versions.push_back(v);
  const auto& sig = (*model)->instances->signature();
  return JsonResponse({{"name", route.model},
                       {"versions", std::move(versions)},
                       {"platform", std::string((*model)->instances->platform())},
                       {"inputs", internal::TensorSpecsJson(sig.inputs)},
                       {"outputs", internal::TensorSpecsJson(sig.outputs)},
                       // An extension to the v2 metadata: who vouched for these bytes.
                       {"signature", internal::SignatureJson((*model)->record)}});
}

http::Response ModelReady(const Services& services, const Route& route) {
  auto model = services.registry->Find(route.model, route.version);
  if (!model.ok()) return http::Response::Error(model.status());
  return JsonResponse({{"name", route.model}, {"ready", true}});
}

StatusOr<std::optional<uint64_t>> JsonHeaderLength(const http::RequestHead& head) {
  auto value = head.Header("inference-header-content-length");
  if (!value) return std::optional<uint64_t>();
  auto n = internal::ParseDecimal(*value);
  if (!n) return Status::InvalidArgument("Inference-Header-Content-Length must be a non-negative integer");
  return n;
}

// Parses and validates the request (the guard stage), runs the engine, and
// encodes the outputs; `monitor` (may be null) gets the two stages' times.
StatusOr<http::Response> RunInference(const registry::ServedModel& model, const http::Request& request,
                                      monitor::Monitor* monitor) {
  monitor::StageTimer timer;
  AEGIS_ASSIGN_OR_RETURN(auto header_length, JsonHeaderLength(request.head));
  AEGIS_ASSIGN_OR_RETURN(InferRequest infer, ParseInferRequest(request.body, header_length));
  runtime::ModelInstances& instances = *model.instances;
  AEGIS_RETURN_IF_ERROR(runtime::ValidateInputs(instances.signature(), infer.inputs));
  if (monitor != nullptr) monitor->ObserveStage(monitor::Stage::kGuard, timer.Lap());
  auto inferred = instances.Infer(infer.inputs);
  if (monitor != nullptr) monitor->ObserveStage(monitor::Stage::kEngine, timer.Lap());
  AEGIS_ASSIGN_OR_RETURN(auto outputs, std::move(inferred));

  // Keep the requested outputs, in the order asked for.
  std::vector<runtime::Tensor> selected;
  std::vector<bool> binary;
  if (infer.outputs.empty()) {
    selected = std::move(outputs);
    binary.assign(selected.size(), infer.binary_data_output);
  } else {
    for (const auto& want : infer.outputs) {
      auto it = std::find_if(outputs.begin(), outputs.end(), [&](const auto& t) { return t.name == want.name; });
      if (it == outputs.end()) return Status::InvalidArgument("unknown output '" + want.name + "'");
      selected.push_back(*it);
      binary.push_back(want.binary_data || infer.binary_data_output);
    }
  }
  AEGIS_ASSIGN_OR_RETURN(auto encoded,
                         EncodeInferResponse(model.record.name, model.record.version, infer.id, selected, binary));
  http::Response response;
  response.body = std::move(encoded.body);
  response.content_type = encoded.content_type;
  if (encoded.json_header_length) {
    response.headers.emplace_back("Inference-Header-Content-Length", std::to_string(*encoded.json_header_length));
  }
  return response;
}

}  // namespace

http::Plan DataPlane::Begin(const http::RequestHead& head) {
  auto route = MatchRoute(head.path);
  if (!route) {
    http::Plan plan = internal::Respond(http::Response::Error(404, "no such endpoint"));
    internal::AuditOnComplete(plan, services_, internal::StartUnroutedEvent(head));
    return plan;
  }
  http::Plan plan;
  audit::AuditEvent event = internal::StartEvent(head, ActionOf(route->kind), ResourceOf(*route));
  monitor::ModelSeries* series = nullptr;  // set once an inference has a served model
  const bool is_infer = route->kind == RouteKind::kInfer;
  const char* allowed = is_infer ? "POST" : "GET";
  const bool is_health = route->kind == RouteKind::kLive || route->kind == RouteKind::kReady;

  // Health probes are unauthenticated by contract; everything else needs a
  // credential and a grant, checked before any body is read and before the
  // model is looked up (so a 404 never tells an unauthorized caller a model
  // exists).
  if (!is_health) {
    auto principal = internal::Authenticate(services_, head, plan, event);
    if (!principal || !internal::Authorize(services_, *principal, ActionOf(route->kind), route->model, plan, event)) {
      internal::AuditOnComplete(plan, services_, std::move(event));
      return plan;
    }
  }
  if (head.method != allowed) {
    plan.immediate = internal::MethodNotAllowed(allowed);
  } else {
    const Services& services = services_;
    switch (route->kind) {
      case RouteKind::kServerMetadata:
        plan.immediate = ServerMetadata();
        break;
      case RouteKind::kLive:
        plan.immediate = JsonResponse({{"live", true}});
        break;
      case RouteKind::kReady: {
        bool ready = services.registry->Ready() && !(services.draining && services.draining->load());
        plan.immediate = ready ? JsonResponse({{"ready", true}}) : http::Response::Json(503, R"({"ready":false})");
        break;
      }
      case RouteKind::kModelMetadata:
        plan.immediate = ModelMetadata(services, *route);
        break;
      case RouteKind::kModelReady:
        plan.immediate = ModelReady(services, *route);
        break;
      case RouteKind::kInfer: {
        // Resolve the version now: unknown models are refused before their body is
        // read, and the audit event names the version that actually served.
        auto model = services.registry->Find(route->model, route->version);
        if (!model.ok()) {
          plan.immediate = http::Response::Error(model.status());
          break;
        }
        event.resource = "model:" + route->model + "/versions/" + (*model)->record.version;
        if (services.monitor != nullptr) series = services.monitor->SeriesFor(**model);
        plan.body_limit = services.limits.max_body_bytes;
        plan.handler = [model = std::move(*model), monitor = services.monitor](http::Request& request) {
          auto response = RunInference(*model, request, monitor);
          return response.ok() ? std::move(response).value() : http::Response::Error(response.status());
        };
        break;
      }
    }
  }
  internal::AuditOnComplete(plan, services_, std::move(event), nullptr, series);
  return plan;
}

void DataPlane::OnRejected(const http::RequestHead& head, int status, std::string_view reason) {
  internal::AuditRejected(services_, head, status, reason);
}

}  // namespace aegis::api
