// XGBoost models: JSON (parsed with simdjson under a depth limit) or UBJ (ubjson.cc).
// Either must be an object with a "learner" object, else it is not an XGBoost model
// (Status: could not scan); a missing or odd "version" is a finding, and so is
// every structural problem xgboost_structure.h lists.
#include <algorithm>

#include <simdjson.h>

#include "scan_internal.h"
#include "ubjson.h"
#include "xgboost_structure.h"

namespace aegis::scan::internal {
namespace {

Status NotXgboost(const std::string& why) {
  return Status::Unprocessable("could not determine the model format: " + why);
}

bool IsVersion(simdjson::dom::element version) {
  simdjson::dom::array parts;
  if (version.get_array().get(parts) != simdjson::SUCCESS || parts.size() != 3) return false;
  for (simdjson::dom::element part : parts) {
    int64_t n = 0;
    if (part.get_int64().get(n) != simdjson::SUCCESS || n < 0) return false;
  }
  return true;
}

}  // namespace

Status ScanXgboostJson(std::span<const uint8_t> bytes, const ScanLimits& limits, FindingList& out) {
  simdjson::dom::parser parser;
  if (parser.allocate(bytes.size(), static_cast<size_t>(std::max(limits.max_json_depth, 1))) != simdjson::SUCCESS) {
    return Status::TooLarge("XGBoost JSON model too large to parse");
  }
  simdjson::dom::element root;
  auto error = parser.parse(bytes.data(), bytes.size(), true).get(root);
  if (error == simdjson::DEPTH_ERROR) {
    return Status::Unprocessable("XGBoost JSON model nests deeper than " + std::to_string(limits.max_json_depth) +
                                 " levels");
  }
  if (error != simdjson::SUCCESS) {
    return Status::Unprocessable(std::string("malformed JSON: ") + simdjson::error_message(error));
  }
  simdjson::dom::object document;
  if (root.get_object().get(document) != simdjson::SUCCESS) return NotXgboost("JSON that is not an object");
  simdjson::dom::element learner;
  if (document["learner"].get(learner) != simdjson::SUCCESS || !learner.is_object()) {
    return NotXgboost("JSON without an XGBoost \"learner\" object");
  }
  simdjson::dom::element version;
  if (document["version"].get(version) != simdjson::SUCCESS || !IsVersion(version)) {
    out.Add(Severity::kMedium, "\"version\"", "XGBoost model without a valid version ([major, minor, patch])");
  }
  CheckXgboostJsonStructure(root, bytes.size(), limits, out);
  return Status::Ok();
}

Status ScanXgboostUbj(std::span<const uint8_t> bytes, const ScanLimits& limits, FindingList& out) {
  AEGIS_ASSIGN_OR_RETURN(UbjSummary summary, ValidateUbj(bytes, std::max(limits.max_json_depth, 1)));
  if (summary.root != '{') return NotXgboost("UBJ that is not an object");
  char learner = 0, version = 0;
  for (const auto& [key, marker] : summary.top_level_keys) {
    if (key == "learner") learner = marker;
    if (key == "version") version = marker;
  }
  if (learner != '{') return NotXgboost("UBJ without an XGBoost \"learner\" object");
  if (version != '[') {
    out.Add(Severity::kMedium, "\"version\"", "XGBoost model without a valid version ([major, minor, patch])");
  }
  CheckXgboostUbjStructure(bytes, limits, out);
  return Status::Ok();
}

}  // namespace aegis::scan::internal
