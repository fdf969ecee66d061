// Connection settings and schema migrations for the metadata database (internal
// to src/store).
//
// The schema version lives in PRAGMA user_version. Each migration is one step from
// version N to N+1, run inside one IMMEDIATE transaction; a shipped step is never
// edited. A database newer than the binary is refused rather than guessed at.
//
// Thread-safety: call once per connection, before sharing it.
#pragma once

#include <sqlite3.h>

#include "aegis/common/status.h"

namespace aegis::store::internal {

inline constexpr int kSchemaVersion = 6;

// busy_timeout, WAL (verified), synchronous=FULL, foreign_keys, secure_delete,
// trusted_schema=OFF.
Status ConfigureConnection(sqlite3* db);

// Brings the schema to kSchemaVersion.
Status MigrateSchema(sqlite3* db);

}  // namespace aegis::store::internal
