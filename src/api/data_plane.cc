#include "aegis/api/data_plane.h"

#include "aegis/api/v2_codec.h"
#include "aegis/common/version.h"
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

// The policy action of an authenticated route (health probes have none).
policy::Action PolicyActionOf(RouteKind kind) {
  switch (kind) {
    case RouteKind::kModelMetadata:
      return policy::Action::kModelMetadata;
    case RouteKind::kModelReady:
      return policy::Action::kModelReady;
    case RouteKind::kInfer:
      return policy::Action::kInfer;
    default:
      return policy::Action::kServerMetadata;
  }
}

const char* ActionOf(RouteKind kind) {
  switch (kind) {
    case RouteKind::kServerMetadata:
      return "server.metadata";
    case RouteKind::kLive:
      return "server.live";
    case RouteKind::kReady:
      return "server.ready";
    case RouteKind::kModelMetadata:
      return "model.metadata";
    case RouteKind::kModelReady:
      return "model.ready";
    case RouteKind::kInfer:
      return "infer";
  }
  return "unknown";
}

std::string ResourceOf(const Route& route) {
  if (route.model.empty()) return "server";
  return "model:" + route.model + (route.version.empty() ? "" : "/versions/" + route.version);
}

http::Response JsonResponse(const Json& json) { return http::Response::Json(200, internal::Dump(json)); }

http::Response ServerMetadata() {
  return JsonResponse({{"name", "aegis"}, {"version", kVersion}, {"extensions", Json::array({"binary_tensor_data"})}});
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
  // A version whose workers were withdrawn (or are all restarting) is loaded but
  // cannot answer: a balancer must see that before it sends traffic.
  if (!(*model)->instances->Ready()) {
    return http::Response::Json(503, internal::Dump(Json{{"name", route.model}, {"ready", false}}));
  }
  return JsonResponse({{"name", route.model}, {"ready", true}});
}

StatusOr<std::optional<uint64_t>> JsonHeaderLength(const http::RequestHead& head) {
  auto value = head.Header("inference-header-content-length");
  if (!value) return std::optional<uint64_t>();
  auto n = internal::ParseDecimal(*value);
  if (!n) return Status::InvalidArgument("Inference-Header-Content-Length must be a non-negative integer");
  return n;
}

// What the response needs from the request once the engine has answered.
struct ResponseShape {
  std::string model, version;
  std::optional<std::string> id;
  std::vector<RequestedOutput> outputs;  // empty: all, in the model's order
  bool binary_data_output = false;
};

// Encodes the outputs the request asked for, in the order asked for. `outputs`
// may point into an engine worker's shared memory: they are read once, here.
StatusOr<http::Response> EncodeOutputs(const ResponseShape& shape, std::span<const runtime::TensorView> outputs) {
  std::vector<runtime::TensorView> selected;
  std::vector<bool> binary;
  if (shape.outputs.empty()) {
    selected.assign(outputs.begin(), outputs.end());
    binary.assign(selected.size(), shape.binary_data_output);
  } else {
    for (const auto& want : shape.outputs) {
      auto it = std::find_if(outputs.begin(), outputs.end(), [&](const auto& t) { return t.name == want.name; });
      if (it == outputs.end()) return Status::InvalidArgument("unknown output '" + want.name + "'");
      selected.push_back(*it);
      binary.push_back(want.binary_data || shape.binary_data_output);
    }
  }
  AEGIS_ASSIGN_OR_RETURN(auto encoded, EncodeInferResponse(shape.model, shape.version, shape.id, selected, binary));
  http::Response response;
  response.body = std::move(encoded.body);
  response.content_type = encoded.content_type;
  if (encoded.json_header_length) {
    response.headers.emplace_back("Inference-Header-Content-Length", std::to_string(*encoded.json_header_length));
  }
  return response;
}

http::Response ErrorResponse(const Status& status) {
  http::Response response = http::Response::Error(status);
  // A busy, restarting or stopping model: worth retrying shortly.
  if (status.code() == StatusCode::kUnavailable) response.headers.emplace_back("Retry-After", "1");
  return response;
}

// Parses and validates the request (the guard stage) on the worker pool, then
// hands it to the model's instances; the response is encoded when the engine
// answers (on the model's own thread when it runs confined). `monitor` (may be
// null) gets the two stages' times.
void RunInference(const std::shared_ptr<const registry::ServedModel>& model, const http::Request& request,
                  monitor::Monitor* monitor, http::Reply reply) {
  monitor::StageTimer timer;
  auto header_length = JsonHeaderLength(request.head);
  if (!header_length.ok()) return reply(ErrorResponse(header_length.status()));
  auto infer = ParseInferRequest(request.body, *header_length);
  if (!infer.ok()) return reply(ErrorResponse(infer.status()));
  runtime::ModelInstances& instances = *model->instances;
  Status valid = runtime::ValidateInputs(instances.signature(), infer->inputs);
  if (!valid.ok()) return reply(ErrorResponse(valid));
  if (monitor != nullptr) monitor->ObserveStage(monitor::Stage::kGuard, timer.Lap());
  ResponseShape shape{model->record.name, model->record.version, std::move(infer->id), std::move(infer->outputs),
                      infer->binary_data_output};
  // The callback owns what it needs, not the model: the model's instances may
  // run it on their own thread, and must never hold the last reference to themselves.
  instances.Submit(std::move(infer->inputs), request.head.request_id,
                   [shape = std::move(shape), monitor, timer, reply](const runtime::InferenceResult& result) mutable {
                     if (monitor != nullptr) monitor->ObserveStage(monitor::Stage::kEngine, timer.Lap());
                     if (!result.status.ok()) return reply(ErrorResponse(result.status));
                     auto response = EncodeOutputs(shape, result.outputs);
                     reply(response.ok() ? std::move(response).value() : ErrorResponse(response.status()));
                   });
}

}  // namespace

http::Plan DataPlane::Begin(const http::RequestHead& head) {
  auto route = MatchRoute(head.path);
  if (!route) {
    http::Plan plan = internal::Respond(http::Response::Error(404, "no such endpoint"));
    internal::AuditOnComplete(plan, services_, internal::StartEvent(head, "unknown", "path:" + head.path));
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
    if (!principal ||
        !internal::Authorize(services_, *principal, PolicyActionOf(route->kind), route->model, plan, event)) {
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
        plan.async_handler = [model = std::move(*model), monitor = services.monitor](http::Request& request,
                                                                                     http::Reply reply) {
          RunInference(model, request, monitor, std::move(reply));
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
