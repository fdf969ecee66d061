// Event formats for `aegis audit export` (internal to the CLI).
//
// Thread-safety: stateless.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace aegis::cli::internal {

// One ArcSight CEF:0 line for an event object of the audit log.
std::string EventToCef(const nlohmann::json& event);

}  // namespace aegis::cli::internal
