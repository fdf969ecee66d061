// The guard stage's limits from aegis.toml (internal to src/cli): [guard] for
// every principal and source address, and the `rate` and `burst` keys of
// [models."NAME"] tables for one model.
#pragma once

#include <string>

#include <toml++/toml.h>

#include "aegis/cli/config.h"

namespace aegis::cli::internal {

// Reads [guard] and the models' rate/burst into config.guard. InvalidArgument
// "<file>: guard.<key>: <problem>" (or models."NAME".<key>).
Status LoadGuardConfig(const toml::table& root, const std::string& file, Config& config);

// The [guard] section `aegis init` writes: every key with its default.
std::string RenderGuardConfig();

}  // namespace aegis::cli::internal
