// Strict reading of untrusted JSON (sigstore bundles, in-toto statements, JWTs,
// JWKS) with simdjson, in error-code mode (no exceptions).
//
// Documents are bounded in size by the caller and in nesting here. Known keys
// that appear twice are refused: a tool that reads the first and one that
// reads the last would disagree about what was signed. Unknown keys are
// ignored (sigstore and in-toto both allow extension fields) unless the caller
// also asks for UniqueKeys, which refuses a repeated name anywhere.
//
// Every target that includes this header links PkgConfig::SIMDJSON.
//
// Thread-safety: a JsonDocument is used by one thread; the functions are pure.
#pragma once

#include <algorithm>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "aegis/common/status.h"

namespace aegis::json {

using simdjson::dom::element;

// simdjson counts the document itself as one level: a max_depth of N admits
// containers nested N - 1 deep. Bundles and statements need 5.
inline constexpr size_t kMaxJsonDepth = 16;

// Owns a parser and the element tree it produced (elements point into it).
class JsonDocument {
 public:
  // `what` names the document in messages ("bundle", "statement").
  Status Parse(std::string_view json, std::string_view what, size_t max_depth = kMaxJsonDepth) {
    // Empty is not JSON; and an empty view may carry a null pointer that simdjson
    // would hand to memcpy.
    if (json.empty()) return Status::InvalidArgument(std::string(what) + " is not valid JSON");
    if (parser_.allocate(std::max<size_t>(json.size(), 64), max_depth) != simdjson::SUCCESS) {
      return Status::Internal("cannot allocate the JSON parser");
    }
    const auto error = parser_.parse(json.data(), json.size(), true).get(root_);
    if (error == simdjson::DEPTH_ERROR) return Status::InvalidArgument(std::string(what) + " is nested too deeply");
    if (error != simdjson::SUCCESS) return Status::InvalidArgument(std::string(what) + " is not valid JSON");
    return Status::Ok();
  }
  element root() const { return root_; }

 private:
  simdjson::dom::parser parser_;
  element root_;
};

// Refuses an object anywhere inside `value` (itself included) that names a
// member twice, whatever the name. Member names compare after unescaping, so
// "a" and "\u0061" are the same name. Recursion is bounded by the parse depth.
inline Status UniqueKeys(element value, std::string_view what) {
  simdjson::dom::object object;
  simdjson::dom::array array;
  if (value.get_object().get(object) == simdjson::SUCCESS) {
    std::vector<std::string_view> names;
    names.reserve(object.size());
    for (auto [key, field] : object) {
      names.push_back(key);
      AEGIS_RETURN_IF_ERROR(UniqueKeys(field, what));
    }
    std::sort(names.begin(), names.end());
    if (std::adjacent_find(names.begin(), names.end()) != names.end()) {
      return Status::InvalidArgument(std::string(what) + " has a duplicate member name");
    }
  } else if (value.get_array().get(array) == simdjson::SUCCESS) {
    for (element item : array) AEGIS_RETURN_IF_ERROR(UniqueKeys(item, what));
  }
  return Status::Ok();
}

// The known fields of one JSON object.
class Fields {
 public:
  // Refuses a non-object and duplicated known keys; `where` prefixes messages.
  static StatusOr<Fields> Of(element value, std::string where, std::initializer_list<std::string_view> known) {
    return Of(value, std::move(where), std::span<const std::string_view>(known.begin(), known.size()));
  }
  // As above, for a list of names only known at run time (which must not
  // repeat a name).
  static StatusOr<Fields> Of(element value, std::string where, std::span<const std::string_view> known) {
    simdjson::dom::object object;
    if (value.get_object().get(object) != simdjson::SUCCESS) {
      return Status::InvalidArgument(where + " must be a JSON object");
    }
    Fields fields(std::move(where));
    for (auto [key, field] : object) {
      for (std::string_view k : known) {
        if (key != k) continue;
        if (fields.Get(k)) return Status::InvalidArgument(fields.where_ + ": duplicate key \"" + std::string(k) + "\"");
        fields.values_.emplace_back(k, field);
      }
    }
    return fields;
  }

  std::optional<element> Get(std::string_view key) const {
    for (const auto& [k, v] : values_) {
      if (k == key) return v;
    }
    return std::nullopt;
  }
  // Present and not null.
  bool Has(std::string_view key) const {
    auto v = Get(key);
    return v && !v->is_null();
  }

  StatusOr<element> Required(std::string_view key) const {
    auto v = Get(key);
    if (!v) return Status::InvalidArgument(where_ + " has no \"" + std::string(key) + "\"");
    return *v;
  }
  StatusOr<std::string_view> String(std::string_view key) const {
    AEGIS_ASSIGN_OR_RETURN(element v, Required(key));
    std::string_view text;
    if (v.get_string().get(text) != simdjson::SUCCESS) return Wrong(key, "a string");
    return text;
  }
  StatusOr<simdjson::dom::array> Array(std::string_view key) const {
    AEGIS_ASSIGN_OR_RETURN(element v, Required(key));
    simdjson::dom::array array;
    if (v.get_array().get(array) != simdjson::SUCCESS) return Wrong(key, "an array");
    return array;
  }
  StatusOr<bool> Bool(std::string_view key) const {
    AEGIS_ASSIGN_OR_RETURN(element v, Required(key));
    bool b = false;
    if (v.get_bool().get(b) != simdjson::SUCCESS) return Wrong(key, "a boolean");
    return b;
  }
  // A positive integer; integral floats (8.0, 1e9) count, as some writers
  // emit every JSON number as a double.
  StatusOr<uint64_t> PositiveInteger(std::string_view key) const {
    AEGIS_ASSIGN_OR_RETURN(element v, Required(key));
    uint64_t u = 0;
    int64_t i = 0;
    double d = 0;
    if (v.get_uint64().get(u) == simdjson::SUCCESS && u > 0) return u;
    if (v.get_int64().get(i) == simdjson::SUCCESS && i > 0) return static_cast<uint64_t>(i);
    constexpr double kMaxExact = 9007199254740992.0;  // 2^53: larger doubles skip integers
    if (v.get_double().get(d) == simdjson::SUCCESS && d >= 1 && d <= kMaxExact) {
      const auto whole = static_cast<uint64_t>(d);
      if (static_cast<double>(whole) == d) return whole;
    }
    return Wrong(key, "a positive integer");
  }

  const std::string& where() const { return where_; }

 private:
  explicit Fields(std::string where) : where_(std::move(where)) {}
  Status Wrong(std::string_view key, std::string_view type) const {
    return Status::InvalidArgument(where_ + "." + std::string(key) + " must be " + std::string(type));
  }

  std::string where_;
  std::vector<std::pair<std::string_view, element>> values_;
};

}  // namespace aegis::json
