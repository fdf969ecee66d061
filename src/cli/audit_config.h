// The SIEM sink sections of aegis.toml (internal to src/cli): [audit.syslog] and
// [audit.webhook]. Both are optional; when present they are validated in full
// here, so that `aegis serve` refuses a bad sink before it serves anything.
#pragma once

#include <string>

#include <toml++/toml.h>

#include "aegis/cli/config.h"

namespace aegis::cli::internal {

// Reads the [audit] table of `root` into `config` (absent = no sinks).
// InvalidArgument "<file>: audit.<sink>.<key>: <problem>" on any unknown key,
// wrong type or bad value; the webhook token file is read (and its mode checked) here.
Status LoadAuditConfig(const toml::table& root, const std::string& file, Config& config);

}  // namespace aegis::cli::internal
