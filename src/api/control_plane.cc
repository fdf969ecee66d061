#include "aegis/api/control_plane.h"

#include "model_json.h"
#include "request_pipeline.h"

namespace aegis::api {
namespace {

using internal::Json;

constexpr size_t kDefaultAuditLimit = 100;
constexpr size_t kMaxAuditLimit = 10000;

// Streams an upload into a registry push session.
class PushSink final : public http::BodySink {
 public:
  explicit PushSink(std::unique_ptr<registry::PushSession> session) : session_(std::move(session)) {}

  Status Write(std::span<const uint8_t> chunk) override { return session_->Write(chunk); }

  http::Response Finish() override {
    auto model = session_->Finish();
    if (!model.ok()) return http::Response::Error(model.status());
    Json body = internal::RecordJson((*model)->record);
    body["platform"] = std::string((*model)->instances->platform());
    body["inputs"] = internal::TensorSpecsJson((*model)->instances->signature().inputs);
    body["outputs"] = internal::TensorSpecsJson((*model)->instances->signature().outputs);
    return http::Response::Json(201, internal::Dump(body));
  }

  void Abort(const Status&) override { session_->Abort(); }

 private:
  std::unique_ptr<registry::PushSession> session_;
};

http::Response ListModels(const Services& services) {
  auto records = services.registry->List();
  if (!records.ok()) return http::Response::Error(records.status());
  Json models = Json::array();
  for (const auto& r : *records) models.push_back(internal::RecordJson(r));
  return http::Response::Json(200, internal::Dump(Json{{"models", std::move(models)}}));
}

http::Response RemoveModel(const Services& services, const std::string& name, const std::string& version) {
  Status removed = services.registry->Remove(name, version);
  if (!removed.ok()) return http::Response::Error(removed);
  return http::Response::Json(200, internal::Dump(Json{{"deleted", {{"name", name}, {"version", version}}}}));
}

StatusOr<size_t> ParseLimit(const http::RequestHead& head) {
  auto value = head.QueryParam("limit");
  if (!value) return kDefaultAuditLimit;
  auto n = internal::ParseDecimal(*value);
  if (!n || *n == 0 || *n > kMaxAuditLimit) {
    return Status::InvalidArgument("limit must be an integer from 1 to " + std::to_string(kMaxAuditLimit));
  }
  return static_cast<size_t>(*n);
}

http::Response ReadAudit(const Services& services, size_t limit) {
  auto lines = services.audit->Recent(limit);
  if (!lines.ok()) return http::Response::Error(lines.status());
  // The lines are JSON objects we wrote ourselves: splice them in verbatim.
  std::string body = "{\"events\":[";
  for (size_t i = 0; i < lines->size(); ++i) {
    if (i) body += ',';
    body += (*lines)[i];
  }
  body += "]}";
  return http::Response::Json(200, std::move(body));
}

}  // namespace

http::Plan ControlPlane::Begin(const http::RequestHead& head) {
  auto segs = internal::SplitPath(head.path);
  const bool is_models = segs && segs->size() == 2 && (*segs)[0] == "v1" && (*segs)[1] == "models";
  const bool is_version = segs && segs->size() == 5 && (*segs)[0] == "v1" && (*segs)[1] == "models" &&
                          (*segs)[3] == "versions";
  const bool is_audit = segs && segs->size() == 2 && (*segs)[0] == "v1" && (*segs)[1] == "audit";
  if (!is_models && !is_version && !is_audit) {
    http::Plan plan = internal::Respond(http::Response::Error(404, "no such endpoint"));
    internal::AuditOnComplete(plan, services_, internal::StartEvent(head, "unknown", "path:" + head.path));
    return plan;
  }
  std::string name = is_version ? std::string((*segs)[2]) : "";
  std::string version = is_version ? std::string((*segs)[4]) : "";
  std::string action, resource;
  if (is_models) {
    action = "model.list";
    resource = "models";
  } else if (is_audit) {
    action = "audit.read";
    resource = "audit";
  } else {
    action = head.method == "DELETE" ? "model.remove" : "model.push";
    resource = "model:" + name + "/versions/" + version;
  }

  http::Plan plan;
  audit::AuditEvent event = internal::StartEvent(head, action, resource);
  auto principal = internal::Authenticate(services_, head, plan, event);
  if (principal) {
    if (is_models) {
      if (head.method == "GET") {
        const Services services = services_;  // a database read: on the worker pool
        plan.handler = [services](http::Request&) { return ListModels(services); };
      } else {
        plan.immediate = internal::MethodNotAllowed("GET");
      }
    } else if (is_audit) {
      if (head.method != "GET") {
        plan.immediate = internal::MethodNotAllowed("GET");
      } else if (auto limit = ParseLimit(head); !limit.ok()) {
        plan.immediate = http::Response::Error(limit.status());
      } else {
        const Services services = services_;
        plan.handler = [services, n = *limit](http::Request&) { return ReadAudit(services, n); };
      }
    } else if (head.method == "DELETE") {
      const Services services = services_;
      plan.handler = [services, name, version](http::Request&) { return RemoveModel(services, name, version); };
    } else if (head.method == "PUT") {
      auto format = runtime::ParseModelFormat(head.QueryParam("format").value_or(""));
      if (!format) {
        plan.immediate = http::Response::Error(400, "query parameter format must be onnx, torchscript or xgboost");
      } else if (auto session = services_.registry->BeginPush(name, version, *format, principal->name);
                 !session.ok()) {
        plan.immediate = http::Response::Error(session.status());
      } else {
        plan.body_limit = services_.limits.max_model_bytes;
        plan.sink = std::make_unique<PushSink>(std::move(*session));
      }
    } else {
      plan.immediate = internal::MethodNotAllowed("PUT, DELETE");
    }
  }
  internal::AuditOnComplete(plan, services_, std::move(event));
  return plan;
}

void ControlPlane::OnRejected(const http::RequestHead& head, int status, std::string_view reason) {
  internal::AuditRejected(services_, head, status, reason);
}

}  // namespace aegis::api
