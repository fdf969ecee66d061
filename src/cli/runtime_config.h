// How models run, from aegis.toml (internal to src/cli): [runtime] for every
// model, and [models."NAME"] tables that override it for one model name. Both
// are validated in full here, so `aegis serve` refuses a bad value before it
// loads any model.
#pragma once

#include <string>

#include <toml++/toml.h>

#include "aegis/cli/config.h"

namespace aegis::cli::internal {

// Reads [runtime] and [models."NAME"] of `root` into `config`. InvalidArgument
// "<file>: runtime.<key>: <problem>" (or models."NAME".<key>) on any unknown key,
// wrong type, bad value or invalid model name.
Status LoadRuntimeConfig(const toml::table& root, const std::string& file, Config& config);

// The [runtime] section `aegis init` writes: every key with its default.
std::string RenderRuntimeConfig();

}  // namespace aegis::cli::internal
