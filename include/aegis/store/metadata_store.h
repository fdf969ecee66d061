// MetadataStore: the database holding model versions (with their signatures),
// API token hashes, users, the trust store of publisher keys, security
// incidents, suspended principals and input baselines. Two backends share one
// schema description (src/store/schema.cc): SQLite (WAL) under
// DIR/db/aegis.db, the embedded default, and PostgreSQL for replicas that
// share their state ([store] url). Schema migrations are versioned; every
// value is a bound parameter, never SQL text.
//
// Thread-safety: all methods are safe for concurrent use (one connection
// guarded by a mutex; SQLite itself is in serialized mode).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aegis/common/status.h"
#include "aegis/store/change_feed.h"

namespace aegis::store {

// Who signed a version, as verified at push: the trusted key's name and
// fingerprint, the OMS subject digest, and the whole sigstore bundle (kept so
// every load re-verifies the signature and the manifest).
struct SignatureRecord {
  std::string signer;          // trust-store key name
  std::string fingerprint;     // hex SHA-256 of the key's SubjectPublicKeyInfo
  std::string subject_digest;  // hex
  std::string bundle;          // sigstore bundle JSON
};

struct ModelVersionRecord {
  std::string name;
  std::string version;
  std::string format;       // "onnx" | "torchscript" | "xgboost"
  std::string artifact_id;  // 32 lowercase hex chars
  std::string sha256;       // hex digest of the plaintext artifact
  uint64_t size_bytes = 0;
  std::vector<uint8_t> wrapped_dek;
  std::string kek_id;
  std::string created_at;                    // RFC 3339
  std::string created_by;                    // principal
  int64_t sequence = 0;                      // monotonically increasing push order (set by the store)
  std::optional<SignatureRecord> signature;  // absent for unsigned versions
};

// A publisher key trusted to sign models whose names match `models` (a glob).
struct TrustedKeyRecord {
  std::string name;
  std::string key_type;     // "ecdsa-p256" | "ecdsa-p384" | "ed25519"
  std::string fingerprint;  // hex SHA-256 of the SubjectPublicKeyInfo; unique
  std::string public_key_pem;
  std::string models;  // glob over model names, "*" for all
  std::string created_at;
  std::string created_by;
};

// A credential's own request limits (the guard stage); empty/zero fields leave
// the server's [guard] defaults in force.
struct RequestLimits {
  std::string rate;  // "N/s", "N/m" or "N/h"; empty = the default
  uint64_t burst = 0;
  uint64_t quota_per_day = 0;
  bool operator==(const RequestLimits&) const = default;
};

struct TokenRecord {
  std::string id;  // public id embedded in the token
  std::string name;
  std::string role;                  // a policy role name
  std::vector<uint8_t> secret_hash;  // SHA-256 of the secret part
  std::string created_at;
  std::optional<std::string> expires_at;
  bool revoked = false;
  std::string models = "*";  // model glob the role applies to
  std::string created_by;    // principal that issued it ("init" for the first admin token)
  RequestLimits limits;
};

// A person who logs in with a password and a TOTP code.
struct UserRecord {
  std::string name;
  std::string role;                          // a policy role name
  std::string models = "*";                  // model glob the role applies to
  std::string password_hash;                 // Argon2id encoded string ($argon2id$v=19$...)
  std::vector<uint8_t> totp_secret_wrapped;  // the TOTP key, wrapped by the KEK (context "totp:" + name)
  std::string kek_id;
  int64_t last_totp_step = -1;              // highest RFC 6238 time step accepted (replay guard)
  int failed_logins = 0;                    // consecutive failures since the last success
  std::optional<std::string> locked_until;  // RFC 3339; locked while now < locked_until
  bool disabled = false;
  std::string created_at;
  std::string created_by;
  RequestLimits limits;
};

// One thing an incident's playbook (or an operator) did about it, and when.
struct IncidentActionRecord {
  std::string action;   // "alert" | "throttle" | "suspend" | "withdraw" | "acknowledge" | "resolve"
  std::string at;       // RFC 3339
  std::string outcome;  // what happened: "suspended token:ci", "not available in this build", ...
};

// A security incident (guard::Incidents raises them; the store only checks the
// closed vocabularies and the evidence bound).
struct IncidentRecord {
  std::string id;                             // 32 lowercase hex chars, random
  std::string kind;                           // "rate_abuse" | "brute_force" | "out_of_distribution" | "extraction" |
                                              // "integrity" | "engine_crash" | "audit"
  std::string severity;                       // "low" | "medium" | "high" | "critical"
  std::string principal;                      // "token:ci", "user:alice", ...; empty when none
  std::string model, version, source;         // empty when not known
  std::string first_seen, last_seen;          // RFC 3339
  int64_t count = 1;                          // signals merged into this incident
  std::string state = "open";                 // "open" | "acknowledged" | "resolved"
  std::string evidence = "{}";                // a JSON object, at most kMaxIncidentEvidence bytes
  std::string note;                           // the resolution note (data, never markup)
  std::vector<IncidentActionRecord> actions;  // oldest first (read only; appended one by one)
};
inline constexpr size_t kMaxIncidentEvidence = 4096;
inline constexpr size_t kMaxIncidentActions = 32;

// A principal refused on both planes until reinstated.
struct SuspensionRecord {
  std::string principal;  // "token:ci", "user:alice", ...
  std::string reason;
  std::string created_at;  // RFC 3339
  std::string created_by;  // a principal, or "system" for a playbook
};

// The frozen input baseline of a model version (guard/baseline.h's stored
// form; the store only bounds its size).
struct BaselineRecord {
  std::string name, version;
  std::vector<uint8_t> data;  // at most kMaxBaselineBytes
  int64_t rows = 0;           // rows of the sample it was computed from
  std::string created_at;     // RFC 3339
  std::string created_by;     // the principal that uploaded it
};
inline constexpr size_t kMaxBaselineBytes = 32u << 20;

// A person's login session, so that it survives a restart and works on every
// server sharing the store. The grant and limits are those fixed at login.
struct SessionRecord {
  std::string id;                    // 16 lowercase hex characters, public
  std::string user;                  // the account's name
  std::vector<uint8_t> secret_hash;  // SHA-256 of the secret part; the secret is never stored
  std::string factor;                // which stored TOTP secret the login proved (auth's digest)
  std::string role, models;          // the grant fixed at login
  RequestLimits limits;              // the limits fixed at login
  int64_t created_ms = 0;            // Unix time of the login, in milliseconds
  int64_t last_used_ms = 0;          // Unix time of the last request, in milliseconds (refreshed now and then)
};

// The largest chunk of an artifact kept in the database.
inline constexpr size_t kMaxArtifactChunkBytes = 4u << 20;

class MetadataStore {
 public:
  // Opens or creates the database (file mode 0600), enables WAL, applies migrations.
  static StatusOr<std::unique_ptr<MetadataStore>> Open(const std::filesystem::path& db_path);
  // Connects to PostgreSQL ([store] url; checks: src/store/pg_url.h) and
  // applies migrations, one replica at a time. `password` comes from
  // AEGIS_DB_PASSWORD (or nullopt: a libpq passfile or no password).
  // InvalidArgument for a URL that is refused, Unavailable when the database
  // cannot be reached, Internal for a schema newer than this binary.
  static StatusOr<std::unique_ptr<MetadataStore>> OpenPostgres(std::string_view url,
                                                               const std::optional<std::string>& password);
  // The checks OpenPostgres makes on a URL, without connecting (for the
  // configuration loader to report a refused URL against its key).
  static Status CheckPostgresUrl(std::string_view url);
  virtual ~MetadataStore() = default;

  // Runs `body` in one transaction: everything it writes through this store
  // commits together, or nothing does (the body's error, or a failed COMMIT,
  // rolls back). Only for a caller that is this store's one user meanwhile
  // (`aegis store migrate`): other calls would join the transaction.
  virtual Status InOneTransaction(const std::function<Status()>& body) = 0;

  // Starts a feed of the changes other servers make (aegis/store/change_feed.h),
  // or nullptr where no other server shares the store (SQLite). Unavailable
  // when the feed's connection cannot be made.
  virtual StatusOr<std::unique_ptr<ChangeFeed>> WatchChanges(std::chrono::milliseconds /*reconcile_interval*/,
                                                             const ChangeFeed::Listener& /*on_change*/) {
    return std::unique_ptr<ChangeFeed>();
  }

  // Returns the push sequence the store assigned (record.sequence is ignored).
  // AlreadyExists if (name, version) is taken.
  virtual StatusOr<int64_t> InsertModelVersion(ModelVersionRecord record) = 0;
  virtual StatusOr<ModelVersionRecord> GetModelVersion(const std::string& name, const std::string& version) = 0;
  // All versions, ordered by name then sequence.
  virtual StatusOr<std::vector<ModelVersionRecord>> ListModelVersions() = 0;
  // NotFound if absent.
  virtual Status DeleteModelVersion(const std::string& name, const std::string& version) = 0;

  virtual Status InsertToken(const TokenRecord& token) = 0;
  virtual StatusOr<TokenRecord> GetToken(const std::string& id) = 0;
  virtual StatusOr<std::vector<TokenRecord>> ListTokens() = 0;
  // Marks a token revoked (idempotent). NotFound if absent.
  virtual Status RevokeToken(const std::string& id) = 0;

  // AlreadyExists if the name is taken.
  virtual Status InsertUser(const UserRecord& user) = 0;
  // NotFound if absent.
  virtual StatusOr<UserRecord> GetUser(const std::string& name) = 0;
  // Ordered by name.
  virtual StatusOr<std::vector<UserRecord>> ListUsers() = 0;
  // Records the outcome of a login attempt. NotFound if absent.
  virtual Status UpdateUserLoginState(const std::string& name, int64_t last_totp_step, int failed_logins,
                                      const std::optional<std::string>& locked_until) = 0;
  // Sets disabled (idempotent). NotFound if absent.
  virtual Status DisableUser(const std::string& name) = 0;
  // Clears disabled (idempotent). NotFound if absent.
  virtual Status EnableUser(const std::string& name) = 0;
  // Replaces the wrapped TOTP secret and restarts its replay guard
  // (last_totp_step = -1: the steps of the old secret mean nothing to the new
  // one). NotFound if absent.
  virtual Status ReplaceUserTotp(const std::string& name, const std::vector<uint8_t>& totp_secret_wrapped,
                                 const std::string& kek_id) = 0;
  // Deletes the account. NotFound if absent.
  virtual Status DeleteUser(const std::string& name) = 0;

  // AlreadyExists when the name or the key (fingerprint) is already trusted.
  virtual Status InsertTrustedKey(const TrustedKeyRecord& key) = 0;
  // Ordered by name.
  virtual StatusOr<std::vector<TrustedKeyRecord>> ListTrustedKeys() = 0;
  // NotFound if absent.
  virtual Status DeleteTrustedKey(const std::string& name) = 0;

  // InvalidArgument for a kind, severity or state outside the vocabulary or
  // evidence over kMaxIncidentEvidence; AlreadyExists if the id is taken.
  // record.actions is ignored (AppendIncidentAction).
  virtual Status InsertIncident(const IncidentRecord& record) = 0;
  // Rewrites severity, last_seen, count, state, evidence and note. NotFound if absent.
  virtual Status UpdateIncident(const IncidentRecord& record) = 0;
  // Appends to the incident's actions; TooLarge beyond
  // kMaxIncidentActions, NotFound if the incident is absent.
  virtual Status AppendIncidentAction(const std::string& id, const IncidentActionRecord& action) = 0;
  // NotFound if absent.
  virtual StatusOr<IncidentRecord> GetIncident(const std::string& id) = 0;
  // At most `limit` incidents, newest first; only those in `state` when given.
  virtual StatusOr<std::vector<IncidentRecord>> ListIncidents(const std::optional<std::string>& state,
                                                              size_t limit) = 0;
  // The newest incident of (kind, principal, model) that is not resolved; NotFound if none.
  virtual StatusOr<IncidentRecord> FindUnresolvedIncident(const std::string& kind, const std::string& principal,
                                                          const std::string& model) = 0;

  // AlreadyExists if the principal is already suspended.
  virtual Status InsertSuspension(const SuspensionRecord& record) = 0;
  // NotFound if the principal is not suspended.
  virtual Status DeleteSuspension(const std::string& principal) = 0;
  // Ordered by principal.
  virtual StatusOr<std::vector<SuspensionRecord>> ListSuspensions() = 0;

  // Inserts or replaces the baseline of (name, version). TooLarge over
  // kMaxBaselineBytes.
  virtual Status PutBaseline(const BaselineRecord& record) = 0;
  // NotFound if absent.
  virtual StatusOr<BaselineRecord> GetBaseline(const std::string& name, const std::string& version) = 0;
  // Ordered by name, version.
  virtual StatusOr<std::vector<BaselineRecord>> ListBaselines() = 0;
  // Idempotent.
  virtual Status DeleteBaseline(const std::string& name, const std::string& version) = 0;

  // AlreadyExists if the id is taken.
  virtual Status InsertSession(const SessionRecord& record) = 0;
  // NotFound if absent.
  virtual StatusOr<SessionRecord> GetSession(const std::string& id) = 0;
  // Sets last_used_ms (never backwards). NotFound if absent.
  virtual Status TouchSession(const std::string& id, int64_t last_used_ms) = 0;
  // Idempotent.
  virtual Status DeleteSession(const std::string& id) = 0;
  // Every session of the account. Idempotent.
  virtual Status DeleteUserSessions(const std::string& user) = 0;
  // Sessions idle since before `idle_before_ms` or made before `created_before_ms`.
  virtual Status DeleteExpiredSessions(int64_t idle_before_ms, int64_t created_before_ms) = 0;
  // The account's sessions, oldest first (ids only).
  virtual StatusOr<std::vector<std::string>> ListUserSessions(const std::string& user) = 0;
  // Every session's id.
  virtual StatusOr<std::vector<std::string>> ListSessionIds() = 0;

  // Whether this store keeps the artifacts' encrypted bytes (PostgreSQL: so
  // replicas need no shared file system) or the data folder's blobs/ alone
  // does (SQLite). aegis/store/artifact_copy.h moves whole blob files.
  virtual bool KeepsArtifacts() const { return false; }
  // Chunk `seq` (0, 1, ...) of an artifact's blob file: ciphertext only, never
  // a key. TooLarge over kMaxArtifactChunkBytes; writing a chunk again
  // replaces it.
  virtual Status PutArtifactChunk(const std::string& artifact_id, int64_t seq, std::span<const uint8_t> data) = 0;
  // NotFound past the last chunk.
  virtual StatusOr<std::vector<uint8_t>> GetArtifactChunk(const std::string& artifact_id, int64_t seq) = 0;
  // Every chunk of the artifact. Idempotent.
  virtual Status DeleteArtifact(const std::string& artifact_id) = 0;
  // Deletes the chunks of at most `max_artifacts` artifacts that no model
  // version references and whose newest chunk was stored more than `min_age`
  // ago by the database's clock (a push that crashed between its upload and
  // its record). Returns how many artifacts were swept. Safe to run on several
  // servers at once.
  virtual StatusOr<size_t> SweepOrphanedArtifacts(std::chrono::milliseconds min_age, size_t max_artifacts) = 0;
};

}  // namespace aegis::store
