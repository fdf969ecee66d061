// Connection settings and schema migrations for the metadata database (internal
// to src/store), for both backends from one description: SchemaSteps() lists
// each step from version N to N+1 in SQLite's and in PostgreSQL's dialect.
//
// SQLite keeps the version in PRAGMA user_version and runs the steps inside one
// IMMEDIATE transaction; PostgreSQL keeps it in the table aegis_schema and runs
// them in one transaction under an advisory lock (pg_schema.cc). A shipped step
// is never edited. A database newer than the binary is refused rather than
// guessed at.
//
// Thread-safety: call once per connection, before sharing it.
#pragma once

#include <span>

#include <sqlite3.h>

#include "aegis/common/status.h"

namespace aegis::store::internal {

inline constexpr int kSchemaVersion = 10;

struct SchemaStep {
  const char* sqlite;    // ends by setting PRAGMA user_version
  const char* postgres;  // the version is recorded by the caller
};

// kSchemaVersion steps; entry i migrates version i to i + 1.
std::span<const SchemaStep> SchemaSteps();

// busy_timeout, WAL (verified), synchronous=FULL, foreign_keys, secure_delete,
// trusted_schema=OFF.
Status ConfigureConnection(sqlite3* db);

// Brings the schema to kSchemaVersion.
Status MigrateSchema(sqlite3* db);

}  // namespace aegis::store::internal
