// Strict reading of small JSON request bodies (control-plane commands): one
// object whose members are strings or integers. Unknown members are refused, so
// a typo ("model") never silently falls back to a default ("*"); duplicate
// members are refused, so two readers can never disagree about the value.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "aegis/common/status.h"

namespace aegis::api::internal {

enum class FieldType { kString, kInteger };

struct FieldSpec {
  std::string_view name;
  FieldType type;
  bool required;
};

class BodyFields {
 public:
  std::optional<std::string> String(std::string_view name) const;
  std::optional<int64_t> Integer(std::string_view name) const;

 private:
  friend StatusOr<BodyFields> ParseBodyFields(std::string_view, std::initializer_list<FieldSpec>);
  std::map<std::string, std::string, std::less<>> strings_;
  std::map<std::string, int64_t, std::less<>> integers_;
};

// InvalidArgument naming the problem (not JSON, not an object, unknown,
// duplicate, missing or mistyped member). A JSON null counts as absent.
StatusOr<BodyFields> ParseBodyFields(std::string_view body, std::initializer_list<FieldSpec> fields);

}  // namespace aegis::api::internal
