// Control-plane routes for input baselines: PUT uploads a sample (a KServe v2
// request body with many rows, or a .npy array) from which the server
// computes and stores the frozen baseline of one model version (input
// screening, docs/threat-detection.md); GET shows its summary.
#include "aegis/api/v2_codec.h"
#include "aegis/guard/baseline.h"
#include "aegis/guard/npy.h"
#include "body_budget.h"
#include "control_routes.h"
#include "model_json.h"

namespace aegis::api::internal {
namespace {

// A sample of 100,000 rows of 12 features as JSON numbers is ~20 MB; a
// 224x224x3 sample of 53 rows as .npy float32 ~32 MB.
constexpr uint64_t kMaxBaselineBody = 64ull << 20;
// Features shown per input by GET (the rest are stored and used, not listed).
constexpr uint64_t kShownFeatures = 64;

// The features per row the model's signature gives `input`, if all known.
std::optional<uint64_t> SignatureFeatures(const runtime::TensorSpec& spec) {
  if (!spec.rank_known || spec.shape.size() < 2) return std::nullopt;
  uint64_t n = 1;
  for (size_t i = 1; i < spec.shape.size(); ++i) {
    if (spec.shape[i] < 0) return std::nullopt;
    n *= static_cast<uint64_t>(spec.shape[i]);
  }
  return n;
}

// The sample inputs in `body`, checked against the model's inputs.
StatusOr<std::vector<guard::SampleInput>> ReadSample(const registry::ServedModel& model, const http::Request& request) {
  const auto& signature = model.instances->signature();
  std::vector<guard::SampleInput> sample;
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(request.body.data()), request.body.size());
  if (guard::LooksLikeNpy(bytes)) {
    std::string name = request.head.QueryParam("input").value_or("");
    if (name.empty()) {
      if (signature.inputs.size() != 1) {
        return Status::InvalidArgument("the model has several inputs: name the .npy file's with ?input=NAME");
      }
      name = signature.inputs[0].name;
    }
    AEGIS_ASSIGN_OR_RETURN(auto input, guard::ParseNpy(bytes, name));
    sample.push_back(std::move(input));
  } else {
    AEGIS_ASSIGN_OR_RETURN(auto parsed, ParseInferRequest(request.body, std::nullopt));
    for (const runtime::TensorView& view : runtime::ViewsOf(parsed.inputs)) {
      AEGIS_ASSIGN_OR_RETURN(auto input, guard::SampleFromTensor(view));
      sample.push_back(std::move(input));
    }
  }
  for (const guard::SampleInput& input : sample) {
    auto spec = std::find_if(signature.inputs.begin(), signature.inputs.end(),
                             [&](const runtime::TensorSpec& s) { return s.name == input.name; });
    if (spec == signature.inputs.end()) {
      return Status::InvalidArgument("the model has no input '" + input.name + "'");
    }
    const auto features = SignatureFeatures(*spec);
    if (features && *features != input.features) {
      return Status::InvalidArgument("baseline input '" + input.name + "' has " + std::to_string(input.features) +
                                     " features per row; the model's input has " + std::to_string(*features));
    }
  }
  return sample;
}

Json Floats(const std::vector<float>& v, size_t begin, size_t count) {
  Json out = Json::array();
  for (size_t i = begin; i < begin + count; ++i) out.push_back(v[i]);
  return out;
}

Json SummaryJson(const store::BaselineRecord& record, const guard::Baseline& b, const guard::ScreeningSettings& s) {
  Json inputs = Json::array();
  for (const guard::InputBaseline& in : b.inputs) {
    Json features = Json::array();
    for (uint64_t f = 0; f < std::min(in.features, kShownFeatures); ++f) {
      features.push_back({{"index", f},
                          {"min", in.min[f]},
                          {"max", in.max[f]},
                          {"mean", in.mean[f]},
                          {"std", in.stddev[f]},
                          {"deciles", Floats(in.deciles, f * guard::kDeciles, guard::kDeciles)},
                          {"nonfinite", in.nonfinite[f] != 0}});
    }
    const auto& m = in.multivariate;
    inputs.push_back(
        {{"name", in.name},
         {"features", in.features},
         {"multivariate",
          {{"reduced_dims", m.dims}, {"block", m.block}, {"components", m.Components()}, {"threshold", m.threshold}}},
         {"drift_features", in.drift_features.size()},
         {"feature_stats", std::move(features)},
         {"feature_stats_truncated", in.features > kShownFeatures}});
  }
  return Json{{"model", record.name},
              {"version", record.version},
              {"rows", b.rows},
              {"created_at", record.created_at},
              {"created_by", record.created_by},
              {"screening",
               {{"mode", std::string(guard::ScreeningModeName(s.mode))},
                {"sigma", s.sigma},
                {"range_margin", s.range_margin},
                {"score", s.score_multiplier}}},
              {"inputs", std::move(inputs)}};
}

http::Response SetBaseline(const Services& services, const std::shared_ptr<const registry::ServedModel>& model,
                           const std::string& principal, const std::shared_ptr<LateOutcome>& late,
                           const http::Request& request) {
  const std::string& name = model->record.name;
  const std::string& version = model->record.version;
  auto refuse = [&](const Status& status) {
    late->reason = "baseline refused: " + status.message();
    return http::Response::Error(status);
  };
  auto sample = ReadSample(*model, request);
  if (!sample.ok()) return refuse(sample.status());
  auto baseline = guard::ComputeBaseline(*sample);
  if (!baseline.ok()) return refuse(baseline.status());
  const bool replaced = services.screening->Find(name, version) != nullptr;
  store::BaselineRecord record{name,
                               version,
                               guard::SerializeBaseline(*baseline),
                               static_cast<int64_t>(baseline->rows),
                               FormatRfc3339(services.clock->Now()),
                               principal};
  Status stored = services.store->PutBaseline(record);
  if (!stored.ok()) return refuse(stored);
  const guard::ScreeningSettings& settings = services.limits.ModelSettings(name).screening;
  Json body = SummaryJson(record, *baseline, settings);
  body["replaced"] = replaced;
  late->reason = std::string(replaced ? "baseline replaced" : "baseline set") + ": " + std::to_string(baseline->rows) +
                 " rows, " + std::to_string(baseline->inputs.size()) + " input(s)";
  services.screening->Install(name, version, std::move(*baseline));
  return http::Response::Json(replaced ? 200 : 201, Dump(body));
}

http::Response ReadBaseline(const Services& services, const std::string& name, const std::string& version) {
  auto record = services.store->GetBaseline(name, version);
  if (!record.ok()) return http::Response::Error(record.status());
  auto baseline = guard::ParseBaseline(record->data);
  if (!baseline.ok()) return http::Response::Error(baseline.status());
  return http::Response::Json(200,
                              Dump(SummaryJson(*record, *baseline, services.limits.ModelSettings(name).screening)));
}

}  // namespace

void PlanBaselineSet(RouteRequest& r, const auth::Principal& principal) {
  const Services& services = r.services;
  if (services.screening == nullptr || services.store == nullptr) {
    r.plan.immediate = http::Response::Error(503, "input screening is not enabled on this server");
    return;
  }
  // The version must be one this server serves: its signature checks the sample.
  auto model = services.registry->Find(r.params.Get("model"), r.params.Get("version"));
  if (!model.ok()) {
    r.plan.immediate = http::Response::Error(model.status());
    return;
  }
  r.plan.body_limit = kMaxBaselineBody;
  BudgetBody(services, principal, r.plan, r.Late());
  r.plan.handler = [services, model = std::move(*model), who = principal.name, late = r.Late()](
                       http::Request& request) { return SetBaseline(services, model, who, late, request); };
}

void PlanBaselineRead(RouteRequest& r, const auth::Principal&) {
  if (r.services.store == nullptr) {
    r.plan.immediate = http::Response::Error(503, "input screening is not enabled on this server");
    return;
  }
  r.plan.handler = [services = r.services, name = std::string(r.params.Get("model")),
                    version = std::string(r.params.Get("version"))](http::Request&) {
    return ReadBaseline(services, name, version);
  };
}

}  // namespace aegis::api::internal
