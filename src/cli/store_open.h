// Opens the metadata store the configuration names: the embedded SQLite file
// under DIR/db, or PostgreSQL ([store] url) with its password from the
// environment (AEGIS_DB_PASSWORD), never from the configuration file or an
// argument, which other users could read.
//
// Thread-safety: reads and clears the environment; call from the main thread
// before starting others.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "aegis/cli/config.h"
#include "aegis/store/metadata_store.h"

namespace aegis::cli {

// AEGIS_DB_PASSWORD, then removed from the environment: children (engine
// workers, the ONNX Runtime host) never inherit it.
std::optional<std::string> DbPasswordFromEnvironment();

// Throws CommandError naming the database problem.
std::unique_ptr<store::MetadataStore> OpenConfiguredStore(const Config& config);

}  // namespace aegis::cli
