// The security sections of GET /v1/dashboard (internal to src/monitor): the
// build, the recent denials, integrity and scanner failures, and the API
// credentials that need an operator's eye. The contract is in docs/operations.md.
//
// Thread-safety: stateless functions over thread-safe services.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aegis/auth/token_authenticator.h"
#include "aegis/monitor/monitor.h"
#include "aegis/registry/registry.h"

namespace aegis::monitor::internal {

using Json = nlohmann::ordered_json;

// "2026-12-04T19:30:00.123Z"; "" for the epoch (never happened).
std::string FormatMillis(std::chrono::system_clock::time_point t);

// {"version", "revision"} of this build (aegis/common/version.h).
Json BuildJson();
// [{"time", "principal", "remote", "action", "resource", "status", "reason"}], newest first.
Json DenialsJson(const std::vector<DenialRecord>& denials);
// {"failures", "scan_findings", "load_failures": [{"model", "count"}], "recent": DenialsJson}.
Json IntegrityJson(const registry::Registry* registry, const std::vector<DenialRecord>& recent);
// {"since", "tokens", "active", "break_glass", "no_expiry", "expired", "unused"}:
// lists of {"id", "name", "role", "models", "created_by", "created_at",
// "expires_at", "last_used"} ("" for none). Unused means not used since `since`
// (this process's start): use is kept in memory only.
Json CredentialsJson(const auth::TokenAuthenticator* tokens, std::chrono::system_clock::time_point now,
                     std::chrono::system_clock::time_point since);

}  // namespace aegis::monitor::internal
