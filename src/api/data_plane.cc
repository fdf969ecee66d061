#include "aegis/api/data_plane.h"

#include <array>

#include "aegis/api/v2_codec.h"
#include "aegis/common/version.h"
#include "aegis/guard/output_policy.h"
#include "body_budget.h"
#include "extraction_stage.h"
#include "model_json.h"
#include "request_pipeline.h"
#include "route_table.h"

namespace aegis::api {
namespace {

using internal::Json;
using internal::LateOutcome;

// The largest inference body parsed on an I/O thread (see Plan): a few
// microseconds of parsing, less than the hop to the worker pool costs.
constexpr uint64_t kCheapBodyBytes = uint64_t{16} * 1024;

http::Response JsonResponse(const Json& json) { return http::Response::Json(200, internal::Dump(json)); }

http::Response ServerMetadata() {
  return JsonResponse({{"name", "aegis"}, {"version", kVersion}, {"extensions", Json::array({"binary_tensor_data"})}});
}

http::Response ModelMetadata(const Services& services, std::string_view name, std::string_view version) {
  auto entry = services.registry->FindEntry(name);
  if (!entry.ok()) return http::Response::Error(entry.status());
  auto model = services.registry->Find(name, version);
  if (!model.ok()) return http::Response::Error(model.status());
  Json versions = Json::array();
  for (const auto& [v, m] : (*entry)->versions) versions.push_back(v);
  const auto& sig = (*model)->instances->signature();
  // The outputs as this server returns them: under an output policy, not what
  // the engine produces.
  const guard::OutputPolicy& policy = services.limits.ModelSettings((*model)->record.name).output_policy;
  std::vector<runtime::TensorSpec> outputs;
  outputs.reserve(sig.outputs.size());
  for (const auto& spec : sig.outputs) outputs.push_back(guard::OutputSpecUnder(policy, spec));
  return JsonResponse({{"name", std::string(name)},
                       {"versions", std::move(versions)},
                       {"platform", std::string((*model)->instances->platform())},
                       {"inputs", internal::TensorSpecsJson(sig.inputs)},
                       {"outputs", internal::TensorSpecsJson(outputs)},
                       // An extension to the v2 metadata: who vouched for these bytes.
                       {"signature", internal::SignatureJson((*model)->record)}});
}

http::Response ModelReady(const Services& services, std::string_view name, std::string_view version) {
  auto model = services.registry->Find(name, version);
  if (!model.ok()) return http::Response::Error(model.status());
  // A version whose workers were withdrawn (or are all restarting) is loaded but
  // cannot answer: a balancer must see that before it sends traffic.
  if (!(*model)->instances->Ready()) {
    return http::Response::Json(503, internal::Dump(Json{{"name", std::string(name)}, {"ready", false}}));
  }
  return JsonResponse({{"name", std::string(name)}, {"ready", true}});
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
  uint64_t max_response = UINT64_MAX;  // encoded body, [limits] or [models."NAME"]
  guard::OutputPolicy output_policy;   // [models."NAME"] output_policy
};

// The response rules of one model name, read when the request is planned.
struct ResponseRules {
  uint64_t max_response = UINT64_MAX;
  guard::OutputPolicy output_policy;
};

// Input screening of one request (guard/screening.h): the baseline of the
// version that serves it, and where a finding goes.
struct ScreeningRules {
  std::shared_ptr<const guard::ScreenedVersion> baseline;  // null: not screened
  std::string principal;
  bool administrator = false;         // the principal holds an admin grant
  std::shared_ptr<LateOutcome> late;  // the request's audit event
  incident::Incidents* incidents = nullptr;
  const Clock* clock = nullptr;
};

// Screens the inputs; false, with the 422 sent, when the model refuses what is
// outside its baseline. A flag is audited on the request's event (which input,
// feature, value and by how much), counted, and signalled as an
// out_of_distribution incident (at most once a second per principal slot).
bool ScreenInputs(const ScreeningRules& rules, const std::vector<runtime::Tensor>& inputs, http::Reply& reply) {
  if (!rules.baseline) return true;
  const std::vector<runtime::TensorView> views = runtime::ViewsOf(inputs);
  const auto finding = rules.baseline->Screen(views);
  if (!finding) return true;
  const bool refuse = rules.baseline->mode() == guard::ScreeningMode::kRefuse;
  const std::string what = finding->Describe();
  rules.baseline->Count(finding->reason);
  rules.late->reason = std::string(refuse ? "screening refused: " : "screening flagged: ") + what;
  rules.late->denied = refuse;
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(rules.clock->Now().time_since_epoch()).count();
  if (rules.incidents != nullptr && rules.baseline->ShouldSignal(rules.principal, now_ms)) {
    rules.incidents->Post({.kind = incident::IncidentKind::kOutOfDistribution,
                           .severity = refuse ? incident::Severity::kMedium : incident::Severity::kLow,
                           .principal = rules.principal,
                           .model = rules.baseline->model(),
                           .version = rules.baseline->version(),
                           .source = "",
                           .evidence = {{"input", finding->input},
                                        {"feature", std::to_string(finding->feature)},
                                        {"reason", std::string(guard::ScreeningReasonName(finding->reason))},
                                        {"finding", what},
                                        {"action", refuse ? "refused" : "flagged"}},
                           .administrator = rules.administrator});
  }
  if (!refuse) return true;
  reply(internal::ErrorResponse(Status::Unprocessable("input outside the model's baseline: " + what)));
  return false;
}

// A response over its model's limit is the model's doing (its outputs for a
// valid request), not the client's, so it is a 500 like an engine failure; it
// names the limit and the one thing the client can change.
Status ResponseTooLargeError(const ResponseShape& shape) {
  return Status::Internal("the response of model '" + shape.model + "' is larger than its limit of " +
                          std::to_string(shape.max_response) +
                          " bytes (max_response_body_bytes); binary outputs (parameters.binary_data_output) "
                          "are up to 4 times smaller than JSON");
}

// Encodes the outputs the request asked for, in the order asked for, hardened
// by the model's output policy (after the selection, so a client naming outputs
// or asking for binary data gets them hardened too). `outputs` may point into
// an engine worker's shared memory: they are read once, here.
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
  AEGIS_ASSIGN_OR_RETURN(const auto hardened, guard::HardenOutputs(shape.output_policy, selected, shape.max_response));
  AEGIS_ASSIGN_OR_RETURN(
      auto encoded, EncodeInferResponse(shape.model, shape.version, shape.id, selected, binary, shape.max_response));
  http::Response response;
  response.body = std::move(encoded.body);
  response.content_type = encoded.content_type;
  if (encoded.json_header_length) {
    response.headers.emplace_back("Inference-Header-Content-Length", std::to_string(*encoded.json_header_length));
  }
  return response;
}

// Parses and validates the request (the guard stage) on the worker pool (or,
// for a small body, on the I/O thread: see PlanInfer), then hands it to the
// model's instances; the response is encoded when the engine answers (on the
// model's own thread when it runs confined). `monitor` (may be null) gets the
// two stages' times.
void RunInference(const std::shared_ptr<const registry::ServedModel>& model, const http::Request& request,
                  monitor::Monitor* monitor, monitor::ModelSeries* series, const ResponseRules& rules,
                  const ScreeningRules& screening, internal::ExtractionWatch watch, http::Reply reply) {
  monitor::StageTimer timer;
  auto header_length = JsonHeaderLength(request.head);
  if (!header_length.ok()) return reply(internal::ErrorResponse(header_length.status()));
  auto infer = ParseInferRequest(request.body, *header_length);
  if (!infer.ok()) return reply(internal::ErrorResponse(infer.status()));
  runtime::ModelInstances& instances = *model->instances;
  Status valid = runtime::ValidateInputs(instances.signature(), infer->inputs);
  if (!valid.ok()) return reply(internal::ErrorResponse(valid));
  const bool admitted = ScreenInputs(screening, infer->inputs, reply);
  // Only what is answered is watched: a refused row leaks nothing of the model.
  if (admitted) watch.Capture(instances.signature(), infer->inputs);  // the inputs move to the engine below
  if (monitor != nullptr) monitor->ObserveStage(monitor::Stage::kGuard, timer.Lap());
  if (!admitted) return;
  ResponseShape shape{model->record.name,        model->record.version, std::move(infer->id), std::move(infer->outputs),
                      infer->binary_data_output, rules.max_response,    rules.output_policy};
  // The callback owns what it needs, not the model: the model's instances may
  // run it on their own thread, and must never hold the last reference to themselves.
  instances.Submit(std::move(infer->inputs), request.head.request_id,
                   [shape = std::move(shape), monitor, series, timer, watch = std::move(watch),
                    reply = std::move(reply)](const runtime::InferenceResult& result) mutable {
                     if (monitor != nullptr) {
                       monitor->ObserveStage(monitor::Stage::kEngine, timer.Lap());
                       monitor->InferenceCompleted(series, result.status.ok(), result.queue_wait, result.batch_size);
                     }
                     if (!result.status.ok()) return reply(internal::ErrorResponse(result.status));
                     // Every answered row counts, whatever the output policy returns.
                     watch.Observe(shape.model, shape.version, result.outputs);
                     auto response = EncodeOutputs(shape, result.outputs);
                     if (!response.ok() && response.status().code() == StatusCode::kTooLarge) {
                       if (monitor != nullptr) monitor->ResponseTooLarge();
                       return reply(internal::ErrorResponse(ResponseTooLargeError(shape)));
                     }
                     reply(response.ok() ? std::move(response).value() : internal::ErrorResponse(response.status()));
                   });
}

void PlanServerMetadata(internal::RouteRequest& r, const auth::Principal&) { r.plan.immediate = ServerMetadata(); }

void PlanLive(internal::RouteRequest& r) { r.plan.immediate = JsonResponse({{"live", true}}); }

void PlanReady(internal::RouteRequest& r) {
  const Services& services = r.services;
  const bool ready = services.registry->Ready() && !(services.draining && services.draining->load());
  r.plan.immediate = ready ? JsonResponse({{"ready", true}}) : http::Response::Json(503, R"({"ready":false})");
}

void PlanModelMetadata(internal::RouteRequest& r, const auth::Principal&) {
  r.plan.immediate = ModelMetadata(r.services, r.params.Get("model"), r.params.Get("version"));
}

void PlanModelReady(internal::RouteRequest& r, const auth::Principal&) {
  r.plan.immediate = ModelReady(r.services, r.params.Get("model"), r.params.Get("version"));
}

// [server] public_model_ready: the same answer without a credential.
void PlanPublicModelReady(internal::RouteRequest& r) {
  r.plan.immediate = ModelReady(r.services, r.params.Get("model"), r.params.Get("version"));
}

void PlanInfer(internal::RouteRequest& r, const auth::Principal& principal) {
  const Services& services = r.services;
  const std::string_view name = r.params.Get("model");
  // Resolve the version now: unknown models are refused before their body is
  // read, and the audit event names the version that actually served.
  auto model = services.registry->Find(name, r.params.Get("version"));
  if (!model.ok()) {
    r.plan.immediate = http::Response::Error(model.status());
    return;
  }
  r.event.resource = "model:" + std::string(name) + "/versions/" + (*model)->record.version;
  if (services.monitor != nullptr) r.series = services.monitor->SeriesFor(**model);
  r.plan.body_limit = services.limits.max_body_bytes;
  // Only now, authenticated, authorized and for a served model, may the
  // request hold memory for its body.
  internal::BudgetBody(services, principal, r.plan, r.Late());
  const ModelApiSettings& settings = services.limits.ModelSettings((*model)->record.name);
  const ResponseRules rules{services.limits.ResponseLimitFor((*model)->record.name), settings.output_policy};
  ScreeningRules screening;
  if (services.screening != nullptr && settings.screening.mode != guard::ScreeningMode::kOff) {
    screening.baseline = services.screening->Find((*model)->record.name, (*model)->record.version);
    if (screening.baseline) {
      screening.principal = principal.name;
      screening.administrator = policy::IsAdministrator(principal.subject);
      screening.late = r.Late();
      screening.incidents = services.incidents;
      screening.clock = services.clock;
    }
  }
  // A small request for a model whose instances only hand it over is parsed on
  // the I/O thread and handed to the model's worker at once: no hop to the
  // worker pool.
  r.plan.async_handler_is_cheap =
      (*model)->instances->SubmitHandsOver() && r.head.content_length && *r.head.content_length <= kCheapBodyBytes;
  internal::ExtractionWatch watch(services, principal.name, policy::IsAdministrator(principal.subject),
                                  internal::SourceAddress(r.event.remote), (*model)->record.name);
  r.plan.async_handler = [model = std::move(*model), monitor = services.monitor, series = r.series, rules,
                          screening = std::move(screening),
                          watch = std::move(watch)](http::Request& request, http::Reply reply) {
    RunInference(model, request, monitor, series, rules, screening, watch, std::move(reply));
  };
}

using internal::Anonymous;
using internal::Granted;
using policy::Action;
using policy::Permission;

// The KServe v2 endpoints. Health probes are unauthenticated by contract;
// everything else needs a credential and a grant, checked before any body is
// read and before the model is looked up (so a 404 never tells an unauthorized
// caller that a model exists).
constexpr internal::DispatchOptions kDispatch{
    .other_plane_prefix = "/v1/",
    .other_plane_error =
        "no such endpoint: this is the data plane (KServe v2); the control plane (/v1/...) has its "
        "own address, 127.0.0.1:9443 unless --admin-listen says otherwise"};

// Per-model readiness needs a grant like model metadata, unless the operator
// opened it ([server] public_model_ready) for probes that carry no credential:
// then it is its own anonymous action, so the audit log tells the two apart.
constexpr internal::Route ModelReadyRoute(bool public_ready, std::string_view pattern, std::string_view resource) {
  return public_ready ? Anonymous("GET", pattern, resource, Action::kModelReadyPublic, PlanPublicModelReady)
                      : Granted("GET", pattern, resource, Action::kModelReady, Permission::kModelReady, PlanModelReady);
}

constexpr std::array<internal::Route, 9> MakeRoutes(bool public_ready) {
  return {
      Granted("GET", "/v2", "server", Action::kServerMetadata, Permission::kServerMetadata, PlanServerMetadata),
      Anonymous("GET", "/v2/health/live", "server", Action::kServerLive, PlanLive),
      Anonymous("GET", "/v2/health/ready", "server", Action::kServerReady, PlanReady),
      Granted("GET", "/v2/models/{model}", "model:{model}", Action::kModelMetadata, Permission::kModelMetadata,
              PlanModelMetadata),
      Granted("GET", "/v2/models/{model}/versions/{version}", "model:{model}/versions/{version}",
              Action::kModelMetadata, Permission::kModelMetadata, PlanModelMetadata),
      ModelReadyRoute(public_ready, "/v2/models/{model}/ready", "model:{model}"),
      ModelReadyRoute(public_ready, "/v2/models/{model}/versions/{version}/ready", "model:{model}/versions/{version}"),
      Granted("POST", "/v2/models/{model}/infer", "model:{model}", Action::kInfer, Permission::kInfer, PlanInfer),
      Granted("POST", "/v2/models/{model}/versions/{version}/infer", "model:{model}/versions/{version}", Action::kInfer,
              Permission::kInfer, PlanInfer),
  };
}
constexpr auto kRoutes = MakeRoutes(false);
constexpr auto kPublicReadyRoutes = MakeRoutes(true);
static_assert(internal::AgreesWithPolicy(kRoutes));
static_assert(internal::AgreesWithPolicy(kPublicReadyRoutes));

}  // namespace

namespace internal {
std::span<const Route> DataPlaneRoutes() { return kRoutes; }
std::span<const Route> PublicReadyDataPlaneRoutes() { return kPublicReadyRoutes; }
}  // namespace internal

namespace {

// A CORS preflight, answered before any route or credential: a browser sends
// none with it. One audit event like every request; a refused origin is a
// denial, with the origin (attacker-chosen: cut short) as the reason.
http::Plan PlanPreflight(const Services& services, const CorsPolicy& cors, const http::RequestHead& head) {
  constexpr size_t kMaxOriginInReason = 256;
  if (services.monitor != nullptr) services.monitor->RequestBegan();
  audit::AuditEvent event = internal::StartPreflightEvent(services, head);
  http::Plan plan = internal::Respond(cors.Preflight(head));
  if (plan.immediate->status != 204) {
    event.decision = audit::Decision::kDeny;
    event.reason =
        "CORS origin not allowed: " + std::string(head.Header("origin").value_or("").substr(0, kMaxOriginInReason));
  }
  internal::AuditOnComplete(plan, services, head, std::move(event));
  return plan;
}

}  // namespace

http::Plan DataPlane::Begin(const http::RequestHead& head) {
  if (options_.cors.IsPreflight(head)) return PlanPreflight(services_, options_.cors, head);
  const std::span<const internal::Route> routes =
      options_.public_model_ready ? std::span<const internal::Route>(kPublicReadyRoutes) : kRoutes;
  http::Plan plan = internal::Dispatch(routes, kDispatch, services_, head);
  options_.cors.Decorate(head, plan);
  return plan;
}

void DataPlane::OnRejected(const http::RequestHead& head, int status, std::string_view reason) {
  internal::AuditRejected(services_, head, status, reason);
}

}  // namespace aegis::api
