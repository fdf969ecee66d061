// The PostgreSQL implementation of MetadataStore (internal to src/store), for
// replicas that share their state: the same tables and semantics as the SQLite
// store (schema.cc describes both). Its queries are split like the SQLite
// store's: postgres_metadata_store.cc (opening, migrations, model versions,
// tokens, trusted keys), postgres_user_queries.cc (users) and
// postgres_incident_queries.cc (incidents, suspensions, baselines).
//
// Thread-safety: one connection; every method takes mu_ around its statements.
// Other replicas write the same tables concurrently: a statement that must see
// a consistent count does its reading and writing in one SQL statement.
#pragma once

#include <memory>

#include "aegis/common/mutex.h"
#include "aegis/store/metadata_store.h"
#include "pg_util.h"

namespace aegis::store::internal {

class PostgresMetadataStore final : public MetadataStore {
 public:
  PostgresMetadataStore(std::unique_ptr<PgConnection> connection, PgConnectOptions options)
      : options_(std::move(options)), pg_(std::move(connection)) {}

  // Brings the schema to kSchemaVersion (one replica at a time).
  Status Migrate();

  StatusOr<std::unique_ptr<ChangeFeed>> WatchChanges(std::chrono::milliseconds reconcile_interval,
                                                     const ChangeFeed::Listener& on_change) override;

  StatusOr<int64_t> InsertModelVersion(ModelVersionRecord record) override;
  StatusOr<ModelVersionRecord> GetModelVersion(const std::string& name, const std::string& version) override;
  StatusOr<std::vector<ModelVersionRecord>> ListModelVersions() override;
  Status DeleteModelVersion(const std::string& name, const std::string& version) override;

  Status InsertToken(const TokenRecord& token) override;
  StatusOr<TokenRecord> GetToken(const std::string& id) override;
  StatusOr<std::vector<TokenRecord>> ListTokens() override;
  Status RevokeToken(const std::string& id) override;

  Status InsertUser(const UserRecord& user) override;
  StatusOr<UserRecord> GetUser(const std::string& name) override;
  StatusOr<std::vector<UserRecord>> ListUsers() override;
  Status UpdateUserLoginState(const std::string& name, int64_t last_totp_step, int failed_logins,
                              const std::optional<std::string>& locked_until) override;
  Status DisableUser(const std::string& name) override;
  Status EnableUser(const std::string& name) override;
  Status ReplaceUserTotp(const std::string& name, const std::vector<uint8_t>& totp_secret_wrapped,
                         const std::string& kek_id) override;
  Status DeleteUser(const std::string& name) override;

  Status InsertTrustedKey(const TrustedKeyRecord& key) override;
  StatusOr<std::vector<TrustedKeyRecord>> ListTrustedKeys() override;
  Status DeleteTrustedKey(const std::string& name) override;

  Status InsertIncident(const IncidentRecord& record) override;
  Status UpdateIncident(const IncidentRecord& record) override;
  Status AppendIncidentAction(const std::string& id, const IncidentActionRecord& action) override;
  StatusOr<IncidentRecord> GetIncident(const std::string& id) override;
  StatusOr<std::vector<IncidentRecord>> ListIncidents(const std::optional<std::string>& state, size_t limit) override;
  StatusOr<IncidentRecord> FindUnresolvedIncident(const std::string& kind, const std::string& principal,
                                                  const std::string& model) override;

  Status InsertSuspension(const SuspensionRecord& record) override;
  Status DeleteSuspension(const std::string& principal) override;
  StatusOr<std::vector<SuspensionRecord>> ListSuspensions() override;

  Status PutBaseline(const BaselineRecord& record) override;
  StatusOr<BaselineRecord> GetBaseline(const std::string& name, const std::string& version) override;
  StatusOr<std::vector<BaselineRecord>> ListBaselines() override;
  Status DeleteBaseline(const std::string& name, const std::string& version) override;

  bool KeepsArtifacts() const override { return true; }
  Status InOneTransaction(const std::function<Status()>& body) override;

  Status InsertSession(const SessionRecord& record) override;
  StatusOr<SessionRecord> GetSession(const std::string& id) override;
  Status TouchSession(const std::string& id, int64_t last_used_ms) override;
  Status DeleteSession(const std::string& id) override;
  Status DeleteUserSessions(const std::string& user) override;
  Status DeleteExpiredSessions(int64_t idle_before_ms, int64_t created_before_ms) override;
  StatusOr<std::vector<std::string>> ListUserSessions(const std::string& user) override;
  StatusOr<std::vector<std::string>> ListSessionIds() override;

  Status PutArtifactChunk(const std::string& artifact_id, int64_t seq, std::span<const uint8_t> data) override;
  StatusOr<std::vector<uint8_t>> GetArtifactChunk(const std::string& artifact_id, int64_t seq) override;
  Status DeleteArtifact(const std::string& artifact_id) override;
  StatusOr<size_t> SweepOrphanedArtifacts(std::chrono::milliseconds min_age, size_t max_artifacts) override;

 private:
  // Migrate()'s steps, inside its transaction.
  Status MigrateInTransaction() AEGIS_REQUIRES(mu_);
  // Runs one statement on the connection.
  StatusOr<PgResult> Run(std::string_view what, const char* sql, const PgParams& params = {}) AEGIS_REQUIRES(mu_) {
    return pg_->Exec(what, sql, params);
  }

  // The first row read by `read`, or `not_found` when there is none.
  template <typename T, typename Reader>
  // NOLINTNEXTLINE(performance-unnecessary-value-param): moved into the result
  StatusOr<T> FetchOne(std::string_view what, const char* sql, const PgParams& params, Reader read, Status not_found)
      AEGIS_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    AEGIS_ASSIGN_OR_RETURN(PgResult result, Run(what, sql, params));
    if (result.rows() == 0) return not_found;
    return read(result, 0);
  }

  template <typename T, typename Reader>
  StatusOr<std::vector<T>> Collect(std::string_view what, const char* sql, const PgParams& params, Reader read)
      AEGIS_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    AEGIS_ASSIGN_OR_RETURN(PgResult result, Run(what, sql, params));
    std::vector<T> out;
    out.reserve(static_cast<size_t>(result.rows()));
    for (int row = 0; row < result.rows(); ++row) out.push_back(read(result, row));
    return out;
  }

  // Runs a statement that must change one row: NotFound(`missing`) otherwise.
  Status ExecuteOne(std::string_view what, const char* sql, const PgParams& params, std::string missing)
      AEGIS_EXCLUDES(mu_);
  // Runs a statement whose row count does not matter.
  Status Execute(std::string_view what, const char* sql, const PgParams& params) AEGIS_EXCLUDES(mu_);
  // Reads the actions of `incident`. The caller holds mu_.
  Status ReadIncidentActions(IncidentRecord& incident) AEGIS_REQUIRES(mu_);
  StatusOr<bool> HasModelVersion(const std::string& name, const std::string& version) AEGIS_EXCLUDES(mu_);

  const PgConnectOptions options_;  // for the change feed's own connection
  Mutex mu_;
  std::unique_ptr<PgConnection> pg_ AEGIS_PT_GUARDED_BY(mu_);
};

}  // namespace aegis::store::internal
