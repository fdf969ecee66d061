// The SQLite implementation of MetadataStore (internal to src/store). Its
// queries are split by table: model_version_queries.cc (model_versions) and
// credential_queries.cc (tokens, trusted_keys), user_queries.cc (users) and
// incident_queries.cc (incidents, incident_actions, suspensions);
// metadata_store.cc opens it.
//
// Thread-safety: one connection; every method takes mu_ around its statements.
#pragma once

#include <mutex>

#include "aegis/store/metadata_store.h"
#include "sqlite_util.h"

namespace aegis::store::internal {

class SqliteMetadataStore final : public MetadataStore {
 public:
  explicit SqliteMetadataStore(sqlite3* db) : connection_{db}, db_(db) {}

  // Configures the connection, migrates the schema and prepares every statement.
  Status Init();

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
  Status PrepareModelStatements();
  Status PrepareCredentialStatements();
  Status PrepareUserStatements();
  Status PrepareIncidentStatements();
  Status PrepareBaselineStatements();
  Status PrepareArtifactStatements();
  Status PrepareSessionStatements();
  // Reads the actions of `incident`. The caller holds mu_.
  Status ReadIncidentActions(IncidentRecord& incident);
  // Whether (name, version) is recorded. The caller holds mu_.
  StatusOr<bool> HasModelVersion(const std::string& name, const std::string& version);

  // Steps a bound single-row query: the row, `not_found`, or the SQLite error.
  template <typename T, typename Reader>
  // NOLINTNEXTLINE(performance-unnecessary-value-param): moved into `out`; the check misses moves in templates
  StatusOr<T> FetchOne(Statement& s, Reader read, Status not_found, const char* what) {
    const int rc = s.Step();
    StatusOr<T> out = std::move(not_found);
    if (rc == SQLITE_ROW) {
      out = read(s);
    } else if (rc != SQLITE_DONE) {
      out = SqliteStatus(db_, rc, what);
    }
    s.Reset();
    return out;
  }

  template <typename T, typename Reader>
  StatusOr<std::vector<T>> Collect(Statement& s, Reader read, const char* what) {
    std::vector<T> out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) out.push_back(read(s));
    Status status = SqliteStatus(db_, rc, what);
    s.Reset();
    if (!status.ok()) return status;
    return out;
  }

  // Runs a bound statement that must change one row: NotFound(`missing`) otherwise.
  Status ExecuteOne(Statement& s, const char* what, std::string missing);

  // Declared before the statements so it is closed after they are finalized.
  struct Connection {
    sqlite3* db;
    ~Connection() { sqlite3_close_v2(db); }
  };

  std::mutex mu_;  // one connection; statements are shared state
  Connection connection_;
  sqlite3* db_;
  Statement insert_model_, get_model_, list_models_, delete_model_;
  Statement insert_token_, get_token_, list_tokens_, revoke_token_;
  Statement insert_user_, get_user_, list_users_, update_login_state_, disable_user_, enable_user_, replace_user_totp_,
      delete_user_;
  Statement insert_key_, list_keys_, delete_key_;
  Statement insert_incident_, update_incident_, get_incident_, list_incidents_, list_incidents_in_state_,
      find_incident_, count_actions_, insert_action_, list_actions_;
  Statement insert_suspension_, delete_suspension_, list_suspensions_;
  Statement put_baseline_, get_baseline_, list_baselines_, delete_baseline_;
  Statement put_chunk_, get_chunk_, delete_artifact_, list_orphaned_artifacts_;
  Statement insert_session_, get_session_, touch_session_, delete_session_, delete_user_sessions_,
      delete_expired_sessions_, list_user_sessions_, list_session_ids_;
};

}  // namespace aegis::store::internal
