// The identity parts of aegis.toml (internal to src/cli): [auth.jwt],
// [auth.jwt.role_map], [[auth.mtls]] and [tls] client_ca/require_client_cert.
#pragma once

#include <string>

#include <toml++/toml.h>

#include "aegis/cli/config.h"

namespace aegis::cli::internal {

// Reads the [auth] table of `root` (absent = no JWT, no certificate identities)
// into `config`. InvalidArgument "<file>: <key>: <problem>" on any unknown key,
// wrong type or bad value.
Status LoadAuthConfig(const toml::table& root, const std::string& file, Config& config);

}  // namespace aegis::cli::internal
