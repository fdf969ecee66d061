// Request-target parsing for the server: the one place that decides which paths
// are acceptable, so that no handler ever sees "..", NUL, backslashes or
// ambiguous percent-encoding (the MLflow-style traversal class of bugs).
//
// Thread-safety: stateless functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "aegis/common/status.h"

namespace aegis::http::internal {

struct Target {
  std::string path;   // percent-decoded
  std::string query;  // raw, without '?'
};

// Accepts origin-form targets only ("/path?query"). Refuses (InvalidArgument,
// message safe to show the client) bad percent escapes, decoded NUL, backslash
// or control characters, fragments, and any ".." path segment.
StatusOr<Target> ParseTarget(std::string_view raw);

// Strict percent-decoding: '%' must be followed by two hex digits. Returns
// nullopt on a bad escape.
std::optional<std::string> PercentDecode(std::string_view in, bool plus_is_space);

}  // namespace aegis::http::internal
