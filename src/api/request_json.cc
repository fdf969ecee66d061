#include "request_json.h"

#include <set>

#include "aegis/common/strict_json.h"

namespace aegis::api::internal {

std::optional<std::string> BodyFields::String(std::string_view name) const {
  auto it = strings_.find(name);
  if (it == strings_.end()) return std::nullopt;
  return it->second;
}

std::optional<int64_t> BodyFields::Integer(std::string_view name) const {
  auto it = integers_.find(name);
  if (it == integers_.end()) return std::nullopt;
  return it->second;
}

StatusOr<BodyFields> ParseBodyFields(std::string_view body, std::initializer_list<FieldSpec> fields) {
  // Bodies here are a few hundred bytes of flat JSON; depth 2 is all they need.
  json::JsonDocument doc;
  simdjson::dom::object object;
  if (!doc.Parse(body, "body", 2).ok() || doc.root().get_object().get(object) != simdjson::SUCCESS) {
    return Status::InvalidArgument("body must be a JSON object");
  }
  BodyFields out;
  std::set<std::string_view> seen;
  for (auto member : object) {
    const FieldSpec* spec = nullptr;
    for (const auto& f : fields) {
      if (f.name == member.key) spec = &f;
    }
    if (spec == nullptr) return Status::InvalidArgument("unknown member '" + std::string(member.key) + "'");
    if (!seen.insert(spec->name).second) {
      return Status::InvalidArgument("member '" + std::string(spec->name) + "' appears twice");
    }
    if (member.value.is_null()) continue;
    if (spec->type == FieldType::kString) {
      std::string_view v;
      if (member.value.get(v) != simdjson::SUCCESS) {
        return Status::InvalidArgument("member '" + std::string(spec->name) + "' must be a string");
      }
      out.strings_.emplace(std::string(spec->name), std::string(v));
    } else {
      int64_t v = 0;
      if (member.value.get(v) != simdjson::SUCCESS) {
        return Status::InvalidArgument("member '" + std::string(spec->name) + "' must be an integer");
      }
      out.integers_.emplace(std::string(spec->name), v);
    }
  }
  for (const auto& f : fields) {
    const bool present = f.type == FieldType::kString ? out.strings_.count(f.name) : out.integers_.count(f.name);
    if (f.required && !present) return Status::InvalidArgument("member '" + std::string(f.name) + "' is required");
  }
  return out;
}

}  // namespace aegis::api::internal
