// PostgresMetadataStore: opening, schema migrations, and the model_versions,
// tokens and trusted_keys tables.
#include "postgres_metadata_store.h"

#include <limits>

#include "pg_change_feed.h"
#include "pg_url.h"
#include "schema.h"

namespace aegis::store {
namespace internal {
namespace {

// Held (per transaction) while a replica migrates, so two replicas starting on
// a fresh database do not both create its tables. The value spells "AEGS".
constexpr const char* kLockMigrations = "SELECT pg_advisory_xact_lock(1095059283)";

constexpr const char* kModelColumns =
    "name, version, format, artifact_id, sha256, size_bytes, wrapped_dek, kek_id, created_at, created_by, sequence, "
    "signer, signer_fingerprint, subject_digest, signature_bundle";
constexpr const char* kTokenColumns =
    "id, name, role, secret_hash, created_at, expires_at, revoked, models, created_by, rate, burst, quota";
constexpr const char* kKeyColumns = "name, key_type, fingerprint, public_key_pem, models, created_at, created_by";

ModelVersionRecord ReadModel(const PgResult& r, int row) {
  ModelVersionRecord m;
  m.name = r.Text(row, 0);
  m.version = r.Text(row, 1);
  m.format = r.Text(row, 2);
  m.artifact_id = r.Text(row, 3);
  m.sha256 = r.Text(row, 4);
  m.size_bytes = static_cast<uint64_t>(r.Int(row, 5));
  m.wrapped_dek = r.Bytes(row, 6);
  m.kek_id = r.Text(row, 7);
  m.created_at = r.Text(row, 8);
  m.created_by = r.Text(row, 9);
  m.sequence = r.Int(row, 10);
  // The four signature columns are written together or not at all.
  if (auto signer = r.OptionalText(row, 11)) {
    m.signature = SignatureRecord{*signer, r.Text(row, 12), r.Text(row, 13), r.Text(row, 14)};
  }
  return m;
}

TokenRecord ReadToken(const PgResult& r, int row) {
  TokenRecord t;
  t.id = r.Text(row, 0);
  t.name = r.Text(row, 1);
  t.role = r.Text(row, 2);
  t.secret_hash = r.Bytes(row, 3);
  t.created_at = r.Text(row, 4);
  t.expires_at = r.OptionalText(row, 5);
  t.revoked = r.Int(row, 6) != 0;
  t.models = r.Text(row, 7);
  t.created_by = r.Text(row, 8);
  t.limits = {r.Text(row, 9), static_cast<uint64_t>(r.Int(row, 10)), static_cast<uint64_t>(r.Int(row, 11))};
  return t;
}

TrustedKeyRecord ReadKey(const PgResult& r, int row) {
  return TrustedKeyRecord{r.Text(row, 0), r.Text(row, 1), r.Text(row, 2), r.Text(row, 3),
                          r.Text(row, 4), r.Text(row, 5), r.Text(row, 6)};
}

std::string Select(const char* columns, const char* rest) { return std::string("SELECT ") + columns + " " + rest; }

}  // namespace

Status PostgresMetadataStore::Migrate() {
  MutexLock lock(mu_);
  AEGIS_RETURN_IF_ERROR(pg_->ExecScript("starting the migration", "BEGIN"));
  Status status = MigrateInTransaction();
  if (!status.ok()) {
    // The migration's error is the one to report; a failed ROLLBACK means the
    // connection is gone, which discards the transaction as well.
    pg_->ExecScript("rolling back the migration", "ROLLBACK").IgnoreError();
    return status;
  }
  return pg_->ExecScript("committing the migration", "COMMIT");
}

Status PostgresMetadataStore::MigrateInTransaction() {
  AEGIS_RETURN_IF_ERROR(Run("locking the schema", kLockMigrations).status());
  AEGIS_RETURN_IF_ERROR(
      pg_->ExecScript("creating the schema version table",
                      "CREATE TABLE IF NOT EXISTS aegis_schema (only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK "
                      "(only_row), version BIGINT NOT NULL CHECK (version >= 0)); "
                      "INSERT INTO aegis_schema (version) VALUES (0) ON CONFLICT DO NOTHING"));
  AEGIS_ASSIGN_OR_RETURN(PgResult current, Run("reading the schema version", "SELECT version FROM aegis_schema"));
  const int64_t version = current.rows() == 1 ? current.Int(0, 0) : -1;
  if (version < 0 || version > kSchemaVersion) {
    return Status::Internal("database schema version " + std::to_string(version) +
                            " is newer than this binary understands");
  }
  const auto steps = SchemaSteps();
  for (int64_t v = version; v < kSchemaVersion; ++v) {
    AEGIS_RETURN_IF_ERROR(pg_->ExecScript("migrating the schema", steps[static_cast<size_t>(v)].postgres));
  }
  return Run("recording the schema version", "UPDATE aegis_schema SET version = $1", PgParams().Int(kSchemaVersion))
      .status();
}

StatusOr<std::unique_ptr<ChangeFeed>> PostgresMetadataStore::WatchChanges(std::chrono::milliseconds reconcile_interval,
                                                                          const ChangeFeed::Listener& on_change) {
  return PgChangeFeed::Start(options_, reconcile_interval, on_change);
}

Status PostgresMetadataStore::InOneTransaction(const std::function<Status()>& body) {
  {
    MutexLock lock(mu_);
    AEGIS_RETURN_IF_ERROR(pg_->ExecScript("starting a transaction", "BEGIN"));
  }
  Status status = body();
  MutexLock lock(mu_);
  if (status.ok()) status = pg_->ExecScript("committing", "COMMIT");
  if (!status.ok()) pg_->ExecScript("rolling back", "ROLLBACK").IgnoreError();  // the first error is reported
  return status;
}

Status PostgresMetadataStore::ExecuteOne(std::string_view what, const char* sql, const PgParams& params,
                                         std::string missing) {
  MutexLock lock(mu_);
  AEGIS_ASSIGN_OR_RETURN(PgResult result, Run(what, sql, params));
  if (result.affected() == 0) return Status::NotFound(std::move(missing));
  return Status::Ok();
}

Status PostgresMetadataStore::Execute(std::string_view what, const char* sql, const PgParams& params) {
  MutexLock lock(mu_);
  return Run(what, sql, params).status();
}

StatusOr<int64_t> PostgresMetadataStore::InsertModelVersion(ModelVersionRecord r) {
  if (r.size_bytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return Status::InvalidArgument("model size out of range");
  }
  const SignatureRecord* sig = r.signature ? &*r.signature : nullptr;
  auto optional = [](const std::string* field) { return field ? std::optional<std::string>(*field) : std::nullopt; };
  PgParams p;
  p.Text(r.name).Text(r.version).Text(r.format).Text(r.artifact_id).Text(r.sha256);
  p.Int(static_cast<int64_t>(r.size_bytes)).Bytes(r.wrapped_dek).Text(r.kek_id).Text(r.created_at).Text(r.created_by);
  p.OptionalText(optional(sig ? &sig->signer : nullptr)).OptionalText(optional(sig ? &sig->fingerprint : nullptr));
  p.OptionalText(optional(sig ? &sig->subject_digest : nullptr)).OptionalText(optional(sig ? &sig->bundle : nullptr));
  StatusOr<int64_t> sequence = Status::Internal("no sequence returned");
  {
    MutexLock lock(mu_);
    auto inserted = Run("inserting model version",
                        "INSERT INTO model_versions (name, version, format, artifact_id, sha256, size_bytes, "
                        "wrapped_dek, kek_id, created_at, created_by, signer, signer_fingerprint, subject_digest, "
                        "signature_bundle) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) "
                        "RETURNING sequence",
                        p);
    if (inserted.ok() && inserted->rows() == 1) sequence = inserted->Int(0, 0);
    if (!inserted.ok()) sequence = inserted.status();
  }
  if (sequence.status().detail() == ErrorDetail::kUniqueViolation) {
    // Name the clash instead of quoting the database. Two UNIQUE constraints
    // share the code, so the data says which one it was.
    AEGIS_ASSIGN_OR_RETURN(const bool version_taken, HasModelVersion(r.name, r.version));
    return Status::AlreadyExists(version_taken ? "model " + r.name + " version " + r.version + " already exists"
                                               : "artifact " + r.artifact_id + " is already registered");
  }
  return sequence;
}

StatusOr<bool> PostgresMetadataStore::HasModelVersion(const std::string& name, const std::string& version) {
  MutexLock lock(mu_);
  AEGIS_ASSIGN_OR_RETURN(PgResult result,
                         Run("reading model version", "SELECT 1 FROM model_versions WHERE name = $1 AND version = $2",
                             PgParams().Text(name).Text(version)));
  return result.rows() > 0;
}

StatusOr<ModelVersionRecord> PostgresMetadataStore::GetModelVersion(const std::string& name,
                                                                    const std::string& version) {
  return FetchOne<ModelVersionRecord>(
      "reading model version", Select(kModelColumns, "FROM model_versions WHERE name = $1 AND version = $2").c_str(),
      PgParams().Text(name).Text(version), ReadModel,
      Status::NotFound("model " + name + " version " + version + " not found"));
}

StatusOr<std::vector<ModelVersionRecord>> PostgresMetadataStore::ListModelVersions() {
  return Collect<ModelVersionRecord>(
      "listing model versions",
      Select(kModelColumns, "FROM model_versions ORDER BY name COLLATE \"C\", sequence").c_str(), PgParams(),
      ReadModel);
}

Status PostgresMetadataStore::DeleteModelVersion(const std::string& name, const std::string& version) {
  return ExecuteOne("deleting model version", "DELETE FROM model_versions WHERE name = $1 AND version = $2",
                    PgParams().Text(name).Text(version), "model " + name + " version " + version + " not found");
}

Status PostgresMetadataStore::InsertToken(const TokenRecord& t) {
  PgParams p;
  p.Text(t.id).Text(t.name).Text(t.role).Bytes(t.secret_hash).Text(t.created_at).OptionalText(t.expires_at);
  p.Int(t.revoked ? 1 : 0).Text(t.models).Text(t.created_by).Text(t.limits.rate);
  p.Int(static_cast<int64_t>(t.limits.burst)).Int(static_cast<int64_t>(t.limits.quota_per_day));
  Status status = Execute("inserting token",
                          (std::string("INSERT INTO tokens (") + kTokenColumns +
                           ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)")
                              .c_str(),
                          p);
  if (status.code() == StatusCode::kAlreadyExists) return Status::AlreadyExists("token " + t.id + " already exists");
  return status;
}

StatusOr<TokenRecord> PostgresMetadataStore::GetToken(const std::string& id) {
  return FetchOne<TokenRecord>("reading token", Select(kTokenColumns, "FROM tokens WHERE id = $1").c_str(),
                               PgParams().Text(id), ReadToken, Status::NotFound("token not found"));
}

StatusOr<std::vector<TokenRecord>> PostgresMetadataStore::ListTokens() {
  return Collect<TokenRecord>("listing tokens", Select(kTokenColumns, "FROM tokens ORDER BY row_order").c_str(),
                              PgParams(), ReadToken);
}

Status PostgresMetadataStore::RevokeToken(const std::string& id) {
  // An UPDATE counts the rows it matched, so revoking twice is not NotFound.
  return ExecuteOne("revoking token", "UPDATE tokens SET revoked = 1 WHERE id = $1", PgParams().Text(id),
                    "token not found");
}

Status PostgresMetadataStore::InsertTrustedKey(const TrustedKeyRecord& k) {
  PgParams p;
  p.Text(k.name).Text(k.key_type).Text(k.fingerprint).Text(k.public_key_pem).Text(k.models).Text(k.created_at);
  p.Text(k.created_by);
  Status status = Execute(
      "inserting trusted key",
      (std::string("INSERT INTO trusted_keys (") + kKeyColumns + ") VALUES ($1, $2, $3, $4, $5, $6, $7)").c_str(), p);
  // name is the primary key; fingerprint is the table's one other UNIQUE column.
  if (status.detail() == ErrorDetail::kPrimaryKeyViolation) {
    return Status::AlreadyExists("a trusted key named '" + k.name + "' already exists");
  }
  if (status.detail() == ErrorDetail::kUniqueViolation) {
    return Status::AlreadyExists("this public key is already trusted under another name");
  }
  return status;
}

StatusOr<std::vector<TrustedKeyRecord>> PostgresMetadataStore::ListTrustedKeys() {
  return Collect<TrustedKeyRecord>("listing trusted keys",
                                   Select(kKeyColumns, "FROM trusted_keys ORDER BY name COLLATE \"C\"").c_str(),
                                   PgParams(), ReadKey);
}

Status PostgresMetadataStore::DeleteTrustedKey(const std::string& name) {
  return ExecuteOne("deleting trusted key", "DELETE FROM trusted_keys WHERE name = $1", PgParams().Text(name),
                    "no trusted key named '" + name + "'");
}

}  // namespace internal

StatusOr<std::unique_ptr<MetadataStore>> MetadataStore::OpenPostgres(std::string_view url,
                                                                     const std::optional<std::string>& password) {
  AEGIS_ASSIGN_OR_RETURN(internal::PgConnectOptions options, internal::ParseStoreUrl(url, password));
  const std::string display = options.display;
  AEGIS_ASSIGN_OR_RETURN(auto connection, internal::PgConnection::Connect(options));
  auto store = std::make_unique<internal::PostgresMetadataStore>(std::move(connection), std::move(options));
  AEGIS_RETURN_IF_ERROR(store->Migrate().WithContext(display));
  return std::unique_ptr<MetadataStore>(std::move(store));
}

Status MetadataStore::CheckPostgresUrl(std::string_view url) {
  return internal::ParseStoreUrl(url, std::nullopt).status();
}

}  // namespace aegis::store
