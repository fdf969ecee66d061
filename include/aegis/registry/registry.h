// Registry: model versions, their encrypted artifacts, and the serving table.
//
// Push path: validate name/version/format → verify the signature bundle against
// the trust store (before any byte of the model is read) → stream plaintext
// through a fresh data key into an encrypted blob (only ciphertext reaches the
// disk) → check the bytes against the signed manifest → scan them → load them
// with the engine (refusing what the engine refuses) → wrap the data key with the
// KEK → record metadata and signature → swap the new version into the serving table.
// Load path (start-up): fetch blob → decrypt in memory → check the SHA-256 recorded
// at push → re-verify the stored bundle with the still-trusted key and the bytes
// against its manifest → scan → engine load → serving table.
//
// With require_signature (the default) a version without a valid signature from
// a key trusted for its model name is never pushed and never served.
//
// The serving table is an immutable snapshot replaced atomically, so the request
// path reads it without locks and in-flight requests keep the model they started
// with while a version is removed.
//
// Thread-safety: all methods are safe for concurrent use.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "aegis/common/clock.h"
#include "aegis/common/model_glob.h"
#include "aegis/common/mutex.h"
#include "aegis/common/status.h"
#include "aegis/common/thread_annotations.h"
#include "aegis/keys/key_provider.h"
#include "aegis/runtime/backend.h"
#include "aegis/runtime/model_instances.h"
#include "aegis/store/metadata_store.h"

namespace aegis::registry {

// A model version's identity: one key for maps and sets of versions, instead of
// joining the two strings. Ordered by name, then version.
struct ModelKey {
  std::string name;
  std::string version;
  // NOLINTNEXTLINE(modernize-use-nullptr): false positive on the 0 of a defaulted <=> (clang-tidy 14)
  friend auto operator<=>(const ModelKey&, const ModelKey&) = default;
};

// A version that is loaded and can serve.
struct ServedModel {
  store::ModelVersionRecord record;
  std::shared_ptr<runtime::ModelInstances> instances;
  // How long making it servable took: decryption, the integrity checks and the
  // engine load at start; the scan and the engine load at push.
  std::chrono::nanoseconds load_time{0};
};

// Everything one model name has, for metadata and routing.
struct ModelEntry {
  std::map<std::string, std::shared_ptr<const ServedModel>> versions;
  std::shared_ptr<const ServedModel> newest;  // highest push sequence
};

// [models."NAME"] settings that override [runtime] for one model name.
struct ModelRuntimeOverrides {
  std::optional<int> instances;
  std::optional<uint64_t> memory_limit_bytes;
  std::optional<std::chrono::milliseconds> request_timeout;
  std::optional<runtime::OnnxEngine> onnx_engine;  // engine = "onnxruntime" | "opencv"
};

struct RegistryOptions {
  std::filesystem::path blobs_dir;
  // How every version runs (isolation, instances, limits, deadlines), unless
  // `models` says otherwise for its name. `label` and `on_event` are set per version.
  runtime::RuntimeOptions runtime;
  std::map<std::string, ModelRuntimeOverrides, std::less<>> models;
  bool require_signature = true;
  // Something happened to a version's engine workers (crash, timeout, sandbox
  // violation, withdrawal): for the audit log and metrics. Called from the
  // runtime's driver threads.
  std::function<void(const std::string& name, const std::string& version, const runtime::RuntimeEvent& event)>
      on_runtime_event;
  // A recorded version LoadAll could not serve, and why (IsIntegrityFailure or
  // DataLoss: its bytes or signature failed a check). Called from LoadAll's thread.
  std::function<void(const std::string& name, const std::string& version, const Status& why)> on_load_failure;
  // What Ready() waits for besides LoadAll having finished: "name" (its newest
  // recorded version) or "name/version". Entries that name nothing recorded are
  // logged and ignored. Empty: nothing, so a version that fails to load or is
  // withdrawn is reported per model and the server stays ready.
  std::vector<std::string> required_models;
  // How many versions LoadAll loads at once; 0: the cores, at most 4.
  int load_parallelism = 0;
};

// Errors that mean "these bytes must not be served" (bad or missing signature,
// digest mismatch, scanner findings) are Unprocessable with
// ErrorDetail::kIntegrityFailure, so callers can audit them as integrity
// failures; their message starts "integrity check failed: ".
inline bool IsIntegrityFailure(const Status& status) { return status.detail() == ErrorDetail::kIntegrityFailure; }

// Trust-store key names: same rules as model names. Globs: see
// aegis/common/model_glob.h.
bool IsValidKeyName(std::string_view name);

// Names: [A-Za-z0-9][A-Za-z0-9._-]{0,127}, and never "..".
bool IsValidModelName(std::string_view name);
bool IsValidVersion(std::string_view version);
// What a refused name or version is told: the rule the two functions above apply.
inline constexpr std::string_view kModelNameRule =
    "invalid model name: 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit, without '..'";
inline constexpr std::string_view kModelVersionRule =
    "invalid model version: 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit, without '..'";

// What the integrity gate refused since start, for metrics. Monotonic.
struct IntegrityCounts {
  // Versions refused at push (IsIntegrityFailure) or not served at load because
  // their bytes or signature failed a check (IsIntegrityFailure or DataLoss).
  uint64_t failures = 0;
  // Findings the model scanner reported, summed over every scan (push and load).
  uint64_t scan_findings = 0;
};

class PushSession;

// What Registry::Reconcile changed, as "name/version".
struct ReconcileResult {
  std::vector<std::string> loaded;     // recorded by another server, now served here
  std::vector<std::string> removed;    // removed by another server, no longer served here
  std::vector<std::string> withdrawn;  // signed by a key another server stopped trusting
  std::vector<Status> failures;        // versions that could not be loaded, or the store's error
};

class Registry {
 public:
  Registry(RegistryOptions options, store::MetadataStore* store, const keys::KeyProvider* kek, const Clock& clock);
  ~Registry();

  // Decrypts, verifies and loads every recorded version, several at once;
  // removes orphaned blobs. A version that fails (tampered blob, engine refusal)
  // is not served and is reported in the returned list. Until a version has
  // loaded, Find says it is loading (Unavailable). Returns early, leaving the
  // rest unloaded, after StopLoading().
  std::vector<Status> LoadAll();
  // Brings what this server serves in line with the store after other servers
  // changed it (store::ChangeFeed): loads and publishes versions recorded
  // elsewhere (fetched, decrypted and checked like any load), unpublishes
  // versions removed elsewhere, and withdraws versions whose signer is no
  // longer trusted, as RemoveTrustedKey does. Does nothing before LoadAll has
  // finished (call it once after). One call at a time; any thread.
  ReconcileResult Reconcile() AEGIS_EXCLUDES(reconcile_mu_, write_mu_, failed_mu_);
  // Makes a LoadAll in progress stop after the versions it is loading.
  void StopLoading() { stop_loading_ = true; }

  // Starts a push. AlreadyExists when the version exists or is being pushed.
  // `signature_bundle` (may be empty) is verified here, before the body is read:
  // Unprocessable (IsIntegrityFailure) when it is missing but required, malformed,
  // or not signed by a key trusted for `name`.
  StatusOr<std::unique_ptr<PushSession>> BeginPush(const std::string& name, const std::string& version,
                                                   runtime::ModelFormat format, const std::string& principal,
                                                   std::string_view signature_bundle = {});

  Status Remove(const std::string& name, const std::string& version);

  StatusOr<std::vector<store::ModelVersionRecord>> List() const;

  // The trust store. AddTrustedKey validates the name, the glob and the PEM
  // (ECDSA P-256/P-384 or Ed25519 public key). RemoveTrustedKey also withdraws
  // every served version that key signed (they answer 503 from then on) and
  // returns them as "name/version".
  StatusOr<store::TrustedKeyRecord> AddTrustedKey(const std::string& name, std::string_view public_key_pem,
                                                  const std::string& models_glob, const std::string& principal);
  StatusOr<std::vector<std::string>> RemoveTrustedKey(const std::string& name);
  StatusOr<std::vector<store::TrustedKeyRecord>> ListTrustedKeys() const;

  // The model to serve: a given version, or the newest when `version` is empty.
  // NotFound for unknown names/versions.
  StatusOr<std::shared_ptr<const ServedModel>> Find(std::string_view name, std::string_view version) const;
  // All versions of a model (NotFound if none).
  StatusOr<std::shared_ptr<const ModelEntry>> FindEntry(std::string_view name) const;

  // Every version served now (one snapshot of the serving table), by name then version.
  std::vector<std::shared_ptr<const ServedModel>> Served() const;
  // Lock-free; safe from any thread.
  IntegrityCounts Integrity() const { return {integrity_failures_.load(), scan_findings_.load()}; }
  // Versions that could not be made servable since start, by model name: a
  // recorded version LoadAll could not serve, or a push the engine refused.
  std::map<std::string, uint64_t, std::less<>> LoadFailures() const AEGIS_EXCLUDES(failed_mu_);

  // True once LoadAll has finished and every version of
  // RegistryOptions::required_models is served: a version that failed to load
  // counts only when it is required; a withdrawn one never does (model
  // readiness reports both).
  bool Ready() const AEGIS_EXCLUDES(failed_mu_);
  // Whether LoadAll has finished (successfully or not).
  bool Loaded() const { return loaded_.load(); }

  // Incident response: a served version stops answering (Find gives 503
  // Unavailable, so inference and model-ready refuse it) while `holder` (an
  // incident id) holds it; its workers stay loaded, so Reinstate is immediate.
  // Several holders may hold one version; it serves again once the last lets
  // go. NotFound when the version is not served. Neither touches the store: the
  // incidents re-apply what their unresolved records say at start.
  Status Withdraw(const std::string& name, const std::string& version, const std::string& holder)
      AEGIS_EXCLUDES(withdrawn_mu_);
  // True when the version no longer has a holder (it serves again).
  bool Reinstate(const std::string& name, const std::string& version, const std::string& holder)
      AEGIS_EXCLUDES(withdrawn_mu_);
  bool IsWithdrawn(std::string_view name, std::string_view version) const AEGIS_EXCLUDES(withdrawn_mu_);

  // Fails every queued and running inference at once and stops the engine
  // workers: when the server's drain timeout runs out, and once it has stopped.
  void ShutdownRuntime();

 private:
  friend class PushSession;
  using Table = std::map<std::string, std::shared_ptr<const ModelEntry>, std::less<>>;

  // Swaps `model` into the serving table, unless its signer is no longer trusted.
  Status Publish(const std::shared_ptr<const ServedModel>& model) AEGIS_EXCLUDES(write_mu_);
  // Decrypts, checks and loads one recorded version (LoadAll's body).
  StatusOr<std::shared_ptr<ServedModel>> LoadVersion(const store::ModelVersionRecord& record,
                                                     const std::vector<store::TrustedKeyRecord>& trusted);
  void MarkFailed(const ModelKey& key, const Status& why) AEGIS_EXCLUDES(failed_mu_);
  // Loads and publishes one recorded version for LoadAll; a failure is marked
  // and returned.
  Status LoadRecorded(const store::ModelVersionRecord& record,
                      const StatusOr<std::vector<store::TrustedKeyRecord>>& trusted);
  // The versions `required_models` names among `records` (under failed_mu_).
  void ResolveRequired(const std::vector<store::ModelVersionRecord>& records) AEGIS_REQUIRES(failed_mu_);
  // Unavailable when (name, version) is waiting to load; version "" for any.
  std::optional<Status> Loading(std::string_view name, std::string_view version) const AEGIS_EXCLUDES(failed_mu_);
  void CountLoadFailure(const std::string& name) AEGIS_EXCLUDES(failed_mu_);
  void Unpublish(const std::string& name, const std::string& version) AEGIS_REQUIRES(write_mu_);
  void ReleaseReservation(const ModelKey& key) AEGIS_EXCLUDES(write_mu_);
  // The runtime settings for one version: the defaults, the model's overrides,
  // its label and event hook.
  runtime::RuntimeOptions RuntimeFor(const std::string& name, const std::string& version) const;
  // The serving table is replaced only under write_mu_: each replacement starts
  // from the table the previous one stored, so none is lost.
  void ReplaceTable(std::shared_ptr<const Table> table) AEGIS_REQUIRES(write_mu_);
  std::filesystem::path BlobPath(const std::string& artifact_id) const;
  // Counts `status` when it is an integrity failure; returns it unchanged.
  Status CountIntegrity(Status status);

  const RegistryOptions options_;
  store::MetadataStore* const store_;
  const keys::KeyProvider* const kek_;
  const Clock& clock_;

  // Serializes table replacement, reservations, removals and revocations.
  // Taken before failed_mu_ when both are held.
  Mutex write_mu_;
  std::set<ModelKey> pushing_ AEGIS_GUARDED_BY(write_mu_);
  Mutex reconcile_mu_;  // one Reconcile at a time
  // Read without a lock by the request path; stored only by ReplaceTable.
  std::atomic<std::shared_ptr<const Table>> table_;
  // Versions recorded in the store that could not be loaded (tampered, refused):
  // requests for them get 503, not 404. The empty key stands for "the versions
  // could not even be listed".
  mutable Mutex failed_mu_;
  std::map<ModelKey, Status> failed_ AEGIS_GUARDED_BY(failed_mu_);
  std::atomic<int> failed_count_{0};  // failed_.size(), stored under failed_mu_; read without it
  std::map<std::string, uint64_t, std::less<>> load_failures_ AEGIS_GUARDED_BY(failed_mu_);
  std::atomic<bool> loaded_{false};
  std::atomic<bool> stop_loading_{false};
  // While LoadAll runs: the recorded versions not loaded yet (Find: "loading"),
  // and the versions Ready() needs (fixed when LoadAll starts).
  std::set<ModelKey> pending_ AEGIS_GUARDED_BY(failed_mu_);
  std::atomic<int> pending_count_{0};
  std::set<ModelKey> required_ AEGIS_GUARDED_BY(failed_mu_);
  // Versions withdrawn by incident response, with the incidents holding them.
  mutable Mutex withdrawn_mu_;
  std::map<ModelKey, std::set<std::string>> withdrawn_ AEGIS_GUARDED_BY(withdrawn_mu_);
  std::atomic<int> withdrawn_count_{0};  // withdrawn_.size(); lets Find skip the lock
  std::atomic<uint64_t> integrity_failures_{0};
  std::atomic<uint64_t> scan_findings_{0};
};

// One upload in progress. Write() receives plaintext chunks; Finish() loads and
// publishes; destroying an unfinished session (or Abort) removes every trace.
class PushSession {
 public:
  ~PushSession();
  Status Write(std::span<const uint8_t> chunk);
  StatusOr<std::shared_ptr<const ServedModel>> Finish();
  void Abort();

 private:
  friend class Registry;
  struct Impl;
  explicit PushSession(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace aegis::registry
