// The OMS v1.0 in-toto statement: written with nlohmann::json (insertion order
// kept, so the payload reads top-down), parsed from untrusted bytes with
// simdjson through the strict Fields reader.
#include "statement.h"

#include <nlohmann/json.hpp>

#include "aegis/common/strict_json.h"
#include "aegis/crypto/encoding.h"
#include "aegis/signing/bundle.h"
#include "manifest_rules.h"

namespace aegis::signing {
namespace internal {

using json::element;
using json::Fields;
using json::JsonDocument;

namespace {

// Lowercase hex of exactly 32 bytes, as OMS writes digests.
StatusOr<crypto::Sha256Digest> ParseDigest(std::string_view hex, std::string_view what) {
  crypto::Sha256Digest digest{};
  bool ok = hex.size() == 64 && hex.find_first_not_of("0123456789abcdef") == std::string_view::npos;
  if (ok) {
    auto bytes = crypto::HexDecode(hex);
    ok = bytes && bytes->size() == digest.size();
    if (ok) std::copy(bytes->begin(), bytes->end(), digest.begin());
  }
  if (!ok) return Status::InvalidArgument(std::string(what) + " must be 64 lowercase hex characters");
  return digest;
}

StatusOr<Serialization> ParseSerialization(element value) {
  AEGIS_ASSIGN_OR_RETURN(Fields f, Fields::Of(value, "serialization",
                                              {"method", "hash_type", "allow_symlinks", "shard_size", "ignore_paths"}));
  Serialization s;
  AEGIS_ASSIGN_OR_RETURN(std::string_view method, f.String("method"));
  if (method == "files") {
    s.method = SerializationMethod::kFiles;
  } else if (method == "shards") {
    s.method = SerializationMethod::kShards;
    AEGIS_ASSIGN_OR_RETURN(s.shard_size, f.PositiveInteger("shard_size"));
  } else {
    return Status::InvalidArgument("unsupported serialization method " + Quote(method));
  }
  AEGIS_ASSIGN_OR_RETURN(std::string_view hash_type, f.String("hash_type"));
  // model_signing 1.0.0 recorded the shard hasher's name here; later releases "sha256".
  const bool legacy_shard_name = s.method == SerializationMethod::kShards && hash_type == ShardAlgorithm(s.shard_size);
  if (hash_type != "sha256" && !legacy_shard_name) {
    return Status::InvalidArgument("unsupported hash_type " + Quote(hash_type));
  }
  AEGIS_ASSIGN_OR_RETURN(s.allow_symlinks, f.Bool("allow_symlinks"));
  if (f.Has("ignore_paths")) {  // absent before model_signing 1.1
    AEGIS_ASSIGN_OR_RETURN(simdjson::dom::array paths, f.Array("ignore_paths"));
    for (element p : paths) {
      std::string_view text;
      if (p.get_string().get(text) != simdjson::SUCCESS) {
        return Status::InvalidArgument("serialization.ignore_paths must hold strings");
      }
      if (s.ignore_paths.size() >= kMaxIgnorePaths) return Status::InvalidArgument("too many ignore paths");
      // Recorded spellings vary (".git/" in some releases); keep the normal form.
      auto normalized = NormalizeIgnorePath(text);
      if (!normalized) return Status::InvalidArgument("ignore path " + Quote(text) + " is not a safe relative path");
      s.ignore_paths.push_back(std::move(*normalized));
    }
  }
  return s;
}

Status ParseResources(element value, Manifest& manifest) {
  simdjson::dom::array array;
  if (value.get_array().get(array) != simdjson::SUCCESS) return Status::InvalidArgument("resources must be an array");
  for (element r : array) {
    if (manifest.resources.size() >= kMaxResources) return Status::InvalidArgument("too many resources");
    AEGIS_ASSIGN_OR_RETURN(Fields f, Fields::Of(r, "resource", {"name", "algorithm", "digest"}));
    Resource resource;
    AEGIS_ASSIGN_OR_RETURN(std::string_view name, f.String("name"));
    AEGIS_ASSIGN_OR_RETURN(std::string_view algorithm, f.String("algorithm"));
    AEGIS_ASSIGN_OR_RETURN(std::string_view digest, f.String("digest"));
    resource.name = name;
    resource.algorithm = algorithm;
    AEGIS_ASSIGN_OR_RETURN(resource.digest, ParseDigest(digest, "resource digest"));
    manifest.resources.push_back(std::move(resource));
  }
  return Status::Ok();
}

}  // namespace

StatusOr<Manifest> ParseStatement(std::string_view payload) {
  JsonDocument doc;
  AEGIS_RETURN_IF_ERROR(doc.Parse(payload, "statement"));
  AEGIS_ASSIGN_OR_RETURN(Fields top,
                         Fields::Of(doc.root(), "statement", {"_type", "subject", "predicateType", "predicate"}));
  AEGIS_ASSIGN_OR_RETURN(std::string_view type, top.String("_type"));
  if (type != kStatementType) return Status::InvalidArgument("statement _type must be " + std::string(kStatementType));
  AEGIS_ASSIGN_OR_RETURN(std::string_view predicate_type, top.String("predicateType"));
  if (predicate_type != kPredicateType) {
    return Status::InvalidArgument("predicateType must be " + std::string(kPredicateType));
  }
  AEGIS_ASSIGN_OR_RETURN(simdjson::dom::array subjects, top.Array("subject"));
  if (subjects.size() != 1) return Status::InvalidArgument("statement must have exactly one subject");
  element first;
  if (subjects.at(0).get(first) != simdjson::SUCCESS) return Status::InvalidArgument("statement has no subject");
  AEGIS_ASSIGN_OR_RETURN(Fields subject, Fields::Of(first, "subject", {"name", "digest"}));
  AEGIS_ASSIGN_OR_RETURN(element digest_set, subject.Required("digest"));
  AEGIS_ASSIGN_OR_RETURN(Fields digests, Fields::Of(digest_set, "subject.digest", {"sha256"}));
  AEGIS_ASSIGN_OR_RETURN(std::string_view subject_hex, digests.String("sha256"));
  AEGIS_ASSIGN_OR_RETURN(crypto::Sha256Digest subject_digest, ParseDigest(subject_hex, "subject digest"));

  Manifest manifest;
  AEGIS_ASSIGN_OR_RETURN(std::string_view model_name, subject.String("name"));
  manifest.model_name = model_name;
  AEGIS_ASSIGN_OR_RETURN(element predicate_value, top.Required("predicate"));
  // OMS v1.0: verifiers ignore predicate fields other than these two.
  AEGIS_ASSIGN_OR_RETURN(Fields predicate, Fields::Of(predicate_value, "predicate", {"serialization", "resources"}));
  AEGIS_ASSIGN_OR_RETURN(element serialization, predicate.Required("serialization"));
  AEGIS_ASSIGN_OR_RETURN(manifest.serialization, ParseSerialization(serialization));
  AEGIS_ASSIGN_OR_RETURN(element resources, predicate.Required("resources"));
  AEGIS_RETURN_IF_ERROR(ParseResources(resources, manifest));
  AEGIS_RETURN_IF_ERROR(ValidateManifest(manifest));
  if (manifest.SubjectDigest() != subject_digest) {
    return Status::InvalidArgument("subject digest does not match the resources");
  }
  return manifest;
}

}  // namespace internal

std::string StatementJson(const Manifest& manifest) {
  using Json = nlohmann::ordered_json;
  const Serialization& s = manifest.serialization;
  const bool shards = s.method == SerializationMethod::kShards;
  Json serialization = {{"method", shards ? "shards" : "files"}, {"hash_type", s.hash_type}};
  if (shards) serialization["shard_size"] = s.shard_size;
  serialization["allow_symlinks"] = s.allow_symlinks;
  serialization["ignore_paths"] = s.ignore_paths;
  Json resources = Json::array();
  for (const Resource& r : manifest.resources) {
    resources.push_back({{"name", r.name}, {"algorithm", r.algorithm}, {"digest", crypto::HexEncode(r.digest)}});
  }
  const Json statement = {
      {"_type", internal::kStatementType},
      {"subject", Json::array({{{"name", manifest.model_name},
                                {"digest", {{"sha256", crypto::HexEncode(manifest.SubjectDigest())}}}}})},
      {"predicateType", kPredicateType},
      {"predicate", {{"serialization", std::move(serialization)}, {"resources", std::move(resources)}}},
  };
  // Names are validated UTF-8 before signing; "replace" only keeps this total.
  return statement.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace aegis::signing
