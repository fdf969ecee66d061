// Control-plane routes for the registry: list, push (streamed, signed) and remove.
#include "aegis/crypto/encoding.h"
#include "aegis/policy/policy.h"
#include "control_routes.h"
#include "model_json.h"

namespace aegis::api::internal {
namespace {

// The push's sigstore bundle travels base64-encoded in this header, so it is
// verified before a byte of the model is read.
constexpr std::string_view kSignatureHeader = "aegis-signature-bundle";

// Streams an upload into a registry push session.
class PushSink final : public http::BodySink {
 public:
  PushSink(std::unique_ptr<registry::PushSession> session, std::shared_ptr<LateOutcome> late)
      : session_(std::move(session)), late_(std::move(late)) {}

  Status Write(std::span<const uint8_t> chunk) override { return session_->Write(chunk); }

  http::Response Finish() override {
    auto model = session_->Finish();
    if (!model.ok()) {
      late_->reason = model.status().message();
      late_->denied = registry::IsIntegrityFailure(model.status());
      return http::Response::Error(model.status());
    }
    Json body = RecordJson((*model)->record);
    body["platform"] = std::string((*model)->instances->platform());
    body["inputs"] = TensorSpecsJson((*model)->instances->signature().inputs);
    body["outputs"] = TensorSpecsJson((*model)->instances->signature().outputs);
    return http::Response::Json(201, Dump(body));
  }

  void Abort(const Status& why) override {
    late_->reason = why.message();
    session_->Abort();
  }

 private:
  std::unique_ptr<registry::PushSession> session_;
  std::shared_ptr<LateOutcome> late_;
};

// Whether a recorded version answers now: "serving"; "withdrawn" (by incident
// response, or by the runtime after repeated engine failures); "failed" (it
// could not be loaded at start or push); "not serving" (no worker is up, or its
// signer is no longer trusted).
std::string_view ServingState(const registry::Registry& registry, const store::ModelVersionRecord& r) {
  if (registry.IsWithdrawn(r.name, r.version)) return "withdrawn";
  auto served = registry.Find(r.name, r.version);
  if (!served.ok()) return served.status().code() == StatusCode::kUnavailable ? "failed" : "not serving";
  const auto& instances = (*served)->instances;
  if (instances == nullptr) return "serving";
  if (instances->Stats().withdrawn) return "withdrawn";
  return instances->Ready() ? "serving" : "not serving";
}

// Only the models `subject` may list: a scoped deployer never learns the
// names of models outside its scope.
http::Response ListModels(const Services& services, const policy::Subject& subject) {
  auto records = services.registry->List();
  if (!records.ok()) return http::Response::Error(records.status());
  Json models = Json::array();
  for (const auto& r : *records) {
    if (!policy::InScope(subject, policy::Permission::kModelList, r.name)) continue;
    Json model = RecordJson(r);
    model["state"] = ServingState(*services.registry, r);
    models.push_back(std::move(model));
  }
  return http::Response::Json(200, Dump(Json{{"models", std::move(models)}}));
}

http::Response RemoveModel(const Services& services, const std::string& name, const std::string& version) {
  Status removed = services.registry->Remove(name, version);
  if (!removed.ok()) return http::Response::Error(removed);
  // A version pushed again under this name must not inherit the old one's baseline.
  if (services.screening != nullptr) services.screening->Remove(name, version);
  if (services.store != nullptr) (void)services.store->DeleteBaseline(name, version);
  return http::Response::Json(200, Dump(Json{{"deleted", {{"name", name}, {"version", version}}}}));
}

// The bundle from the push's header: empty when absent, an error when present
// but not base64.
StatusOr<std::string> SignatureBundle(const http::RequestHead& head) {
  auto value = head.Header(kSignatureHeader);
  if (!value) return std::string();
  auto decoded = crypto::Base64Decode(*value);
  if (!decoded || decoded->empty()) {
    return Status::InvalidArgument("header Aegis-Signature-Bundle must be the base64 of a sigstore bundle");
  }
  return std::string(decoded->begin(), decoded->end());
}

}  // namespace

void NoteRefusal(audit::AuditEvent& event, const Status& status) {
  event.reason = status.message();
  if (registry::IsIntegrityFailure(status)) event.decision = audit::Decision::kDeny;
}

void PlanModelList(RouteRequest& r, const auth::Principal& principal) {
  const Services services = r.services;  // a database read: on the worker pool
  r.plan.handler = [services, subject = principal.subject](http::Request&) { return ListModels(services, subject); };
}

void PlanModelPush(RouteRequest& r, const auth::Principal& principal) {
  const std::string name(r.params.Get("model"));
  const std::string version(r.params.Get("version"));
  auto format = runtime::ParseModelFormat(r.head.QueryParam("format").value_or(""));
  if (!format) {
    r.plan.immediate = http::Response::Error(400, "query parameter format must be onnx, torchscript or xgboost");
    return;
  }
  auto bundle = SignatureBundle(r.head);
  if (!bundle.ok()) {
    r.plan.immediate = http::Response::Error(bundle.status());
    return;
  }
  auto session = r.services.registry->BeginPush(name, version, *format, principal.name, *bundle);
  if (!session.ok()) {
    NoteRefusal(r.event, session.status());
    r.plan.immediate = http::Response::Error(session.status());
    return;
  }
  r.plan.body_limit = r.services.limits.max_model_bytes;
  r.plan.sink = std::make_unique<PushSink>(std::move(*session), r.Late());
}

void PlanModelRemove(RouteRequest& r, const auth::Principal&) {
  const Services services = r.services;
  r.plan.handler = [services, name = std::string(r.params.Get("model")),
                    version = std::string(r.params.Get("version"))](http::Request&) {
    return RemoveModel(services, name, version);
  };
}

}  // namespace aegis::api::internal
