#include "model_json.h"

namespace aegis::api::internal {

Json TensorSpecsJson(const std::vector<runtime::TensorSpec>& specs) {
  Json out = Json::array();
  for (const auto& spec : specs) {
    Json shape = Json::array();
    if (!spec.rank_known) {
      shape.push_back(-1);
    } else {
      for (int64_t d : spec.shape) shape.push_back(d);
    }
    out.push_back({{"name", spec.name},
                   {"datatype", std::string(runtime::DataTypeName(spec.datatype))},
                   {"shape", std::move(shape)}});
  }
  return out;
}

Json SignatureJson(const store::ModelVersionRecord& r) {
  if (!r.signature) return nullptr;
  return {{"signer", r.signature->signer},
          {"fingerprint", r.signature->fingerprint},
          {"subject_digest", r.signature->subject_digest}};
}

Json RecordJson(const store::ModelVersionRecord& r) {
  return {{"name", r.name},
          {"version", r.version},
          {"format", r.format},
          {"sha256", r.sha256},
          {"size_bytes", r.size_bytes},
          {"created_at", r.created_at},
          {"created_by", r.created_by},
          {"signature", SignatureJson(r)}};
}

Json TrustedKeyJson(const store::TrustedKeyRecord& k) {
  return {{"name", k.name},
          {"key_type", k.key_type},
          {"fingerprint", k.fingerprint},
          {"models", k.models},
          {"created_at", k.created_at},
          {"created_by", k.created_by},
          {"public_key", k.public_key_pem}};
}

std::string Dump(const Json& json) { return json.dump(-1, ' ', false, Json::error_handler_t::replace); }

}  // namespace aegis::api::internal
