// JSON views of registry records and model signatures, shared by the KServe
// metadata endpoint and the control plane. Internal to the api module.
#pragma once

#include <nlohmann/json.hpp>

#include "aegis/runtime/tensor.h"
#include "aegis/store/metadata_store.h"

namespace aegis::api::internal {

using Json = nlohmann::ordered_json;

// [{"name","datatype","shape"}...] — an unknown rank is shown as [-1].
Json TensorSpecsJson(const std::vector<runtime::TensorSpec>& specs);

// {"signer","fingerprint","subject_digest"} of a signed version; null when unsigned.
Json SignatureJson(const store::ModelVersionRecord& record);

// {"name","version","format","sha256","size_bytes","created_at","created_by","signature"}
Json RecordJson(const store::ModelVersionRecord& record);

// A trust-store key: {"name","key_type","fingerprint","models","created_at","created_by","public_key"}
Json TrustedKeyJson(const store::TrustedKeyRecord& key);

// Serializes without ever throwing on invalid UTF-8 (names come from clients).
std::string Dump(const Json& json);

}  // namespace aegis::api::internal
