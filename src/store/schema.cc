#include "schema.h"

#include <iterator>
#include <string>

#include "sqlite_util.h"

namespace aegis::store::internal {
namespace {

// Version 0 -> 1. STRICT tables: SQLite enforces the declared column types.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE model_versions (
  sequence    INTEGER PRIMARY KEY AUTOINCREMENT,
  name        TEXT NOT NULL,
  version     TEXT NOT NULL,
  format      TEXT NOT NULL,
  artifact_id TEXT NOT NULL UNIQUE,
  sha256      TEXT NOT NULL,
  size_bytes  INTEGER NOT NULL CHECK (size_bytes >= 0),
  wrapped_dek BLOB NOT NULL,
  kek_id      TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  created_by  TEXT NOT NULL,
  UNIQUE (name, version)
) STRICT;
CREATE TABLE tokens (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  role        TEXT NOT NULL,
  secret_hash BLOB NOT NULL,
  created_at  TEXT NOT NULL,
  expires_at  TEXT,
  revoked     INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
) STRICT;
PRAGMA user_version = 1;
)sql";

// Version 1 -> 2: model signatures and the trust store of publisher keys.
constexpr const char* kSchemaV2 = R"sql(
ALTER TABLE model_versions ADD COLUMN signer TEXT;
ALTER TABLE model_versions ADD COLUMN signer_fingerprint TEXT;
ALTER TABLE model_versions ADD COLUMN subject_digest TEXT;
ALTER TABLE model_versions ADD COLUMN signature_bundle TEXT;
CREATE TABLE trusted_keys (
  name           TEXT PRIMARY KEY,
  key_type       TEXT NOT NULL,
  fingerprint    TEXT NOT NULL UNIQUE,
  public_key_pem TEXT NOT NULL,
  models         TEXT NOT NULL,
  created_at     TEXT NOT NULL,
  created_by     TEXT NOT NULL
) STRICT;
PRAGMA user_version = 2;
)sql";

// Version 2 -> 3: scoped, attributed tokens and the users who log in with a
// password and TOTP. Existing tokens keep their meaning: all models, issuer unknown.
constexpr const char* kSchemaV3 = R"sql(
ALTER TABLE tokens ADD COLUMN models TEXT NOT NULL DEFAULT '*';
ALTER TABLE tokens ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
CREATE TABLE users (
  name                TEXT PRIMARY KEY CHECK (length(name) > 0),
  role                TEXT NOT NULL CHECK (length(role) > 0),
  models              TEXT NOT NULL CHECK (length(models) > 0),
  password_hash       TEXT NOT NULL CHECK (substr(password_hash, 1, 10) = '$argon2id$'),
  totp_secret_wrapped BLOB NOT NULL,
  kek_id              TEXT NOT NULL,
  last_totp_step      INTEGER NOT NULL DEFAULT -1 CHECK (last_totp_step >= -1),
  failed_logins       INTEGER NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
  locked_until        TEXT,
  disabled            INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
  created_at          TEXT NOT NULL,
  created_by          TEXT NOT NULL
) STRICT;
PRAGMA user_version = 3;
)sql";

// Version 3 -> 4: a credential's own request limits (rate, burst, daily
// quota). Existing credentials keep the server's defaults.
constexpr const char* kSchemaV4 = R"sql(
ALTER TABLE tokens ADD COLUMN rate TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN burst INTEGER NOT NULL DEFAULT 0 CHECK (burst >= 0);
ALTER TABLE tokens ADD COLUMN quota INTEGER NOT NULL DEFAULT 0 CHECK (quota >= 0);
ALTER TABLE users ADD COLUMN rate TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN burst INTEGER NOT NULL DEFAULT 0 CHECK (burst >= 0);
ALTER TABLE users ADD COLUMN quota INTEGER NOT NULL DEFAULT 0 CHECK (quota >= 0);
PRAGMA user_version = 4;
)sql";

// Version 4 -> 5: security incidents, the actions taken on them, and the
// principals suspended until an operator reinstates them. The closed
// vocabularies and the evidence bound are checked here as well as in the code
// that writes them, so a bug above cannot store what readers do not expect.
constexpr const char* kSchemaV5 = R"sql(
CREATE TABLE incidents (
  id         TEXT PRIMARY KEY CHECK (length(id) = 32),
  kind       TEXT NOT NULL CHECK (kind IN ('rate_abuse', 'brute_force', 'out_of_distribution', 'extraction',
                                           'integrity', 'engine_crash', 'audit')),
  severity   TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
  principal  TEXT NOT NULL,
  model      TEXT NOT NULL,
  version    TEXT NOT NULL,
  source     TEXT NOT NULL,
  first_seen TEXT NOT NULL,
  last_seen  TEXT NOT NULL,
  count      INTEGER NOT NULL CHECK (count >= 1),
  state      TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
  evidence   TEXT NOT NULL CHECK (length(CAST(evidence AS BLOB)) <= 4096),
  note       TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX incidents_by_key ON incidents (kind, principal, model, state);
CREATE INDEX incidents_by_state ON incidents (state);
CREATE TABLE incident_actions (
  incident_id TEXT NOT NULL REFERENCES incidents (id),
  seq         INTEGER NOT NULL CHECK (seq >= 1),
  action      TEXT NOT NULL,
  at          TEXT NOT NULL,
  outcome     TEXT NOT NULL,
  PRIMARY KEY (incident_id, seq)
) STRICT;
CREATE TABLE suspensions (
  principal  TEXT PRIMARY KEY CHECK (length(principal) > 0),
  reason     TEXT NOT NULL,
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL
) STRICT;
PRAGMA user_version = 5;
)sql";

// Version 6: the frozen input baselines of model versions (input screening).
// A row is bounded (the blob is checked again, field by field, when loaded).
constexpr const char* kSchemaV6 = R"sql(
CREATE TABLE baselines (
  name       TEXT NOT NULL,
  version    TEXT NOT NULL,
  data       BLOB NOT NULL CHECK (length(data) <= 33554432),
  rows       INTEGER NOT NULL CHECK (rows >= 1),
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL,
  PRIMARY KEY (name, version)
) STRICT;
PRAGMA user_version = 6;
)sql";

// Version 7: encrypted artifacts in the database, in chunks (the blob file's
// bytes: ciphertext only), for replicas that share no file system. The
// SQLite store keeps its blobs in files; the table serves its tests only.
constexpr const char* kSchemaV7 = R"sql(
CREATE TABLE artifact_chunks (
  artifact_id TEXT NOT NULL CHECK (length(artifact_id) = 32),
  seq         INTEGER NOT NULL CHECK (seq >= 0),
  data        BLOB NOT NULL CHECK (length(data) <= 4194304),
  PRIMARY KEY (artifact_id, seq)
) STRICT;
PRAGMA user_version = 7;
)sql";

// Version 8: PostgreSQL notifies the other servers of changes (triggers); an
// SQLite database has one server, so the step only records the version.
constexpr const char* kSchemaV8 = R"sql(
PRAGMA user_version = 8;
)sql";

// Version 9: people's login sessions, so that one survives a restart and works
// on every server sharing the store. Only a hash of the secret is kept.
constexpr const char* kSchemaV9 = R"sql(
CREATE TABLE sessions (
  id           TEXT PRIMARY KEY CHECK (length(id) = 16),
  user_name    TEXT NOT NULL,
  secret_hash  BLOB NOT NULL CHECK (length(secret_hash) = 32),
  factor       TEXT NOT NULL,
  role         TEXT NOT NULL,
  models       TEXT NOT NULL,
  rate         TEXT NOT NULL,
  burst        INTEGER NOT NULL CHECK (burst >= 0),
  quota        INTEGER NOT NULL CHECK (quota >= 0),
  created_ms   INTEGER NOT NULL,
  last_used_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_by_user ON sessions (user_name, created_ms);
PRAGMA user_version = 9;
)sql";

// Version 10: when each artifact chunk was stored, by the database's clock (ms
// since the epoch), so that chunks a crashed push left behind can be swept once
// no push can still be writing them (MetadataStore::SweepOrphanedArtifacts).
// SQLite cannot add a column whose default is an expression: the inserts name
// the time, and rows already there count from the migration.
constexpr const char* kSchemaV10 = R"sql(
ALTER TABLE artifact_chunks ADD COLUMN stored_ms INTEGER NOT NULL DEFAULT 0;
UPDATE artifact_chunks SET stored_ms = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER);
PRAGMA user_version = 10;
)sql";

// The same steps in PostgreSQL's dialect. Each mirrors its SQLite twin column
// for column (a test compares the two schemas table by table), with these
// translations: BLOB is BYTEA, INTEGER is BIGINT (8-byte binary results),
// STRICT is implied, AUTOINCREMENT is an identity column, length() of bytes is
// octet_length(), and a table that SQLite orders by its implicit rowid gets an
// explicit identity column `row_order`. The version is kept in aegis_schema.
constexpr const char* kPgSchemaV1 = R"sql(
CREATE TABLE model_versions (
  sequence    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name        TEXT NOT NULL,
  version     TEXT NOT NULL,
  format      TEXT NOT NULL,
  artifact_id TEXT NOT NULL UNIQUE,
  sha256      TEXT NOT NULL,
  size_bytes  BIGINT NOT NULL CHECK (size_bytes >= 0),
  wrapped_dek BYTEA NOT NULL,
  kek_id      TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  created_by  TEXT NOT NULL,
  UNIQUE (name, version)
);
CREATE TABLE tokens (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  role        TEXT NOT NULL,
  secret_hash BYTEA NOT NULL,
  created_at  TEXT NOT NULL,
  expires_at  TEXT,
  revoked     BIGINT NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
  row_order   BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE
);
)sql";

constexpr const char* kPgSchemaV2 = R"sql(
ALTER TABLE model_versions ADD COLUMN signer TEXT, ADD COLUMN signer_fingerprint TEXT,
  ADD COLUMN subject_digest TEXT, ADD COLUMN signature_bundle TEXT;
CREATE TABLE trusted_keys (
  name           TEXT PRIMARY KEY,
  key_type       TEXT NOT NULL,
  fingerprint    TEXT NOT NULL UNIQUE,
  public_key_pem TEXT NOT NULL,
  models         TEXT NOT NULL,
  created_at     TEXT NOT NULL,
  created_by     TEXT NOT NULL
);
)sql";

constexpr const char* kPgSchemaV3 = R"sql(
ALTER TABLE tokens ADD COLUMN models TEXT NOT NULL DEFAULT '*', ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
CREATE TABLE users (
  name                TEXT PRIMARY KEY CHECK (length(name) > 0),
  role                TEXT NOT NULL CHECK (length(role) > 0),
  models              TEXT NOT NULL CHECK (length(models) > 0),
  password_hash       TEXT NOT NULL CHECK (substr(password_hash, 1, 10) = '$argon2id$'),
  totp_secret_wrapped BYTEA NOT NULL,
  kek_id              TEXT NOT NULL,
  last_totp_step      BIGINT NOT NULL DEFAULT -1 CHECK (last_totp_step >= -1),
  failed_logins       BIGINT NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
  locked_until        TEXT,
  disabled            BIGINT NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
  created_at          TEXT NOT NULL,
  created_by          TEXT NOT NULL
);
)sql";

constexpr const char* kPgSchemaV4 = R"sql(
ALTER TABLE tokens ADD COLUMN rate TEXT NOT NULL DEFAULT '',
  ADD COLUMN burst BIGINT NOT NULL DEFAULT 0 CHECK (burst >= 0),
  ADD COLUMN quota BIGINT NOT NULL DEFAULT 0 CHECK (quota >= 0);
ALTER TABLE users ADD COLUMN rate TEXT NOT NULL DEFAULT '',
  ADD COLUMN burst BIGINT NOT NULL DEFAULT 0 CHECK (burst >= 0),
  ADD COLUMN quota BIGINT NOT NULL DEFAULT 0 CHECK (quota >= 0);
)sql";

constexpr const char* kPgSchemaV5 = R"sql(
CREATE TABLE incidents (
  id         TEXT PRIMARY KEY CHECK (length(id) = 32),
  kind       TEXT NOT NULL CHECK (kind IN ('rate_abuse', 'brute_force', 'out_of_distribution', 'extraction',
                                           'integrity', 'engine_crash', 'audit')),
  severity   TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
  principal  TEXT NOT NULL,
  model      TEXT NOT NULL,
  version    TEXT NOT NULL,
  source     TEXT NOT NULL,
  first_seen TEXT NOT NULL,
  last_seen  TEXT NOT NULL,
  count      BIGINT NOT NULL CHECK (count >= 1),
  state      TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
  evidence   TEXT NOT NULL CHECK (octet_length(evidence) <= 4096),
  note       TEXT NOT NULL DEFAULT '',
  row_order  BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE
);
CREATE INDEX incidents_by_key ON incidents (kind, principal, model, state);
CREATE INDEX incidents_by_state ON incidents (state);
CREATE TABLE incident_actions (
  incident_id TEXT NOT NULL REFERENCES incidents (id),
  seq         BIGINT NOT NULL CHECK (seq >= 1),
  action      TEXT NOT NULL,
  at          TEXT NOT NULL,
  outcome     TEXT NOT NULL,
  PRIMARY KEY (incident_id, seq)
);
CREATE TABLE suspensions (
  principal  TEXT PRIMARY KEY CHECK (length(principal) > 0),
  reason     TEXT NOT NULL,
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL
);
)sql";

constexpr const char* kPgSchemaV6 = R"sql(
CREATE TABLE baselines (
  name       TEXT NOT NULL,
  version    TEXT NOT NULL,
  data       BYTEA NOT NULL CHECK (octet_length(data) <= 33554432),
  rows       BIGINT NOT NULL CHECK (rows >= 1),
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL,
  PRIMARY KEY (name, version)
);
)sql";

constexpr const char* kPgSchemaV7 = R"sql(
CREATE TABLE artifact_chunks (
  artifact_id TEXT NOT NULL CHECK (length(artifact_id) = 32),
  seq         BIGINT NOT NULL CHECK (seq >= 0),
  data        BYTEA NOT NULL CHECK (octet_length(data) <= 4194304),
  PRIMARY KEY (artifact_id, seq)
);
)sql";

// Every statement that changes a table other servers cache names the table on
// the channel aegis_changes (aegis/store/change_feed.h). Statement-level, and
// PostgreSQL folds equal notifications of one transaction into one.
constexpr const char* kPgSchemaV8 = R"sql(
CREATE FUNCTION aegis_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('aegis_changes', TG_TABLE_NAME);
  RETURN NULL;
END
$$;
CREATE TRIGGER model_versions_changed AFTER INSERT OR UPDATE OR DELETE ON model_versions
  FOR EACH STATEMENT EXECUTE FUNCTION aegis_notify_change();
CREATE TRIGGER tokens_changed AFTER INSERT OR UPDATE OR DELETE ON tokens
  FOR EACH STATEMENT EXECUTE FUNCTION aegis_notify_change();
CREATE TRIGGER users_changed AFTER INSERT OR UPDATE OR DELETE ON users
  FOR EACH STATEMENT EXECUTE FUNCTION aegis_notify_change();
CREATE TRIGGER trusted_keys_changed AFTER INSERT OR UPDATE OR DELETE ON trusted_keys
  FOR EACH STATEMENT EXECUTE FUNCTION aegis_notify_change();
CREATE TRIGGER suspensions_changed AFTER INSERT OR UPDATE OR DELETE ON suspensions
  FOR EACH STATEMENT EXECUTE FUNCTION aegis_notify_change();
)sql";

constexpr const char* kPgSchemaV9 = R"sql(
CREATE TABLE sessions (
  id           TEXT PRIMARY KEY CHECK (length(id) = 16),
  user_name    TEXT NOT NULL,
  secret_hash  BYTEA NOT NULL CHECK (octet_length(secret_hash) = 32),
  factor       TEXT NOT NULL,
  role         TEXT NOT NULL,
  models       TEXT NOT NULL,
  rate         TEXT NOT NULL,
  burst        BIGINT NOT NULL CHECK (burst >= 0),
  quota        BIGINT NOT NULL CHECK (quota >= 0),
  created_ms   BIGINT NOT NULL,
  last_used_ms BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_name, created_ms);
CREATE TRIGGER sessions_changed AFTER DELETE ON sessions
  FOR EACH STATEMENT EXECUTE FUNCTION aegis_notify_change();
)sql";

// Incidents and the actions taken on them notify the other servers, which
// hold the same throttles and withdrawals while an incident is unresolved
// (incident::Incidents::SyncContainment). A playbook's actions are appended
// after the incident is inserted, so both tables notify. Rows already stored
// count as stored at the migration (a volatile default would rewrite the table;
// now() is evaluated once for them).
constexpr const char* kPgSchemaV10 = R"sql(
ALTER TABLE artifact_chunks ADD COLUMN stored_ms BIGINT NOT NULL
  DEFAULT (extract(epoch FROM now()) * 1000)::bigint;
CREATE TRIGGER incidents_changed AFTER INSERT OR UPDATE OR DELETE ON incidents
  FOR EACH STATEMENT EXECUTE FUNCTION aegis_notify_change();
CREATE TRIGGER incident_actions_changed AFTER INSERT OR UPDATE OR DELETE ON incident_actions
  FOR EACH STATEMENT EXECUTE FUNCTION aegis_notify_change();
)sql";

// The one description of the schema: entry i migrates version i to i + 1 in
// both dialects. A shipped step is never edited; a change is a new step here.
constexpr SchemaStep kSteps[] = {
    {kSchemaV1, kPgSchemaV1}, {kSchemaV2, kPgSchemaV2},   {kSchemaV3, kPgSchemaV3}, {kSchemaV4, kPgSchemaV4},
    {kSchemaV5, kPgSchemaV5}, {kSchemaV6, kPgSchemaV6},   {kSchemaV7, kPgSchemaV7}, {kSchemaV8, kPgSchemaV8},
    {kSchemaV9, kPgSchemaV9}, {kSchemaV10, kPgSchemaV10},
};
static_assert(std::size(kSteps) == kSchemaVersion);

}  // namespace

std::span<const SchemaStep> SchemaSteps() { return kSteps; }

Status ConfigureConnection(sqlite3* db) {
  sqlite3_busy_timeout(db, 5000);  // ms: a writer in another process (the CLI) waits, not fails
  AEGIS_RETURN_IF_ERROR(Exec(db, "PRAGMA journal_mode = WAL"));
  // FULL: a commit survives power loss. secure_delete: deleted rows are zeroed on disk.
  // trusted_schema OFF: a doctored database file cannot run functions from its schema.
  AEGIS_RETURN_IF_ERROR(Exec(db,
                             "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; "
                             "PRAGMA secure_delete = ON; PRAGMA trusted_schema = OFF"));
  Statement s;
  AEGIS_RETURN_IF_ERROR(s.Prepare(db, "PRAGMA journal_mode"));
  if (s.Step() != SQLITE_ROW || s.Text(0) != "wal") return Status::Internal("database refused WAL mode");
  return Status::Ok();
}

Status MigrateSchema(sqlite3* db) {
  // IMMEDIATE: two processes opening a fresh database must not both migrate it.
  AEGIS_RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE"));
  Statement s;
  Status status = s.Prepare(db, "PRAGMA user_version");
  int64_t version = 0;
  if (status.ok() && s.Step() == SQLITE_ROW) version = s.Int(0);
  s.Reset();
  if (status.ok() && (version < 0 || version > kSchemaVersion)) {
    status = Status::Internal("database schema version " + std::to_string(version) +
                              " is newer than this binary understands");
  }
  for (int64_t v = version; status.ok() && v < kSchemaVersion; ++v) status = Exec(db, kSteps[v].sqlite);
  if (!status.ok()) {
    // The migration's error is the one to report; if ROLLBACK fails too, closing
    // the connection still discards the uncommitted transaction.
    Exec(db, "ROLLBACK").IgnoreError();
    return status;
  }
  return Exec(db, "COMMIT");
}

}  // namespace aegis::store::internal
