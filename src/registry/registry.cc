#include "aegis/registry/registry.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "aegis/common/log.h"
#include "aegis/crypto/encoding.h"
#include "aegis/crypto/hash.h"
#include "aegis/crypto/random.h"
#include "aegis/crypto/signature.h"
#include "aegis/store/artifact_copy.h"
#include "push_session_impl.h"

namespace aegis::registry {
namespace {

Status Withdrawn(std::string_view name, std::string_view version) {
  return Status::Unavailable("version '" + std::string(version) + "' of model '" + std::string(name) +
                             "' is withdrawn by incident response");
}

bool IsNameChar(char c, bool first) {
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  return !first && (c == '.' || c == '_' || c == '-');
}

bool IsValidIdentifier(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (!IsNameChar(s[i], i == 0)) return false;
  }
  return s.find("..") == std::string_view::npos;
}

std::optional<store::ArtifactId> ParseArtifactId(const std::string& hex) {
  auto bytes = crypto::HexDecode(hex);
  store::ArtifactId id{};
  if (!bytes || bytes->size() != id.size()) return std::nullopt;
  std::copy(bytes->begin(), bytes->end(), id.begin());
  return id;
}

double MillisSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

bool IsValidModelName(std::string_view name) { return IsValidIdentifier(name); }
bool IsValidVersion(std::string_view version) { return IsValidIdentifier(version); }
bool IsValidKeyName(std::string_view name) { return IsValidIdentifier(name); }

// ---------------------------------------------------------------------------
// Registry

Registry::Registry(RegistryOptions options, store::MetadataStore* store, const keys::KeyProvider* kek,
                   const Clock& clock)
    : options_(std::move(options)), store_(store), kek_(kek), clock_(clock) {
  table_.store(std::make_shared<const Table>());
}

Registry::~Registry() = default;

std::filesystem::path Registry::BlobPath(const std::string& artifact_id) const {
  return options_.blobs_dir / (artifact_id + ".blob");
}

std::vector<Status> Registry::LoadAll() {
  const auto began = std::chrono::steady_clock::now();
  std::vector<Status> failures;
  auto records = store_->ListModelVersions();
  if (!records.ok()) {
    failures.push_back(records.status());
    MutexLock lock(failed_mu_);
    failed_[ModelKey{}] = records.status();
    failed_count_ = static_cast<int>(failed_.size());
    loaded_ = true;
    return failures;
  }
  {
    MutexLock lock(failed_mu_);
    for (const auto& record : *records) pending_.insert(ModelKey{record.name, record.version});
    pending_count_ = static_cast<int>(pending_.size());
    ResolveRequired(*records);
  }
  const auto trusted = store_->ListTrustedKeys();
  // Several at once: a load is mostly decryption (already parallel per blob)
  // and an engine worker starting up, which waits on its own process.
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const size_t threads =
      std::min<size_t>(records->size(), options_.load_parallelism > 0 ? static_cast<size_t>(options_.load_parallelism)
                                                                      : std::min(4u, cores));
  std::atomic<size_t> next{0};
  std::mutex failures_mu;
  auto load = [&] {
    for (size_t i = next++; i < records->size() && !stop_loading_; i = next++) {
      Status loaded = LoadRecorded((*records)[i], trusted);
      if (!loaded.ok()) {
        std::lock_guard lock(failures_mu);
        failures.push_back(std::move(loaded));
      }
    }
  };
  std::vector<std::thread> loaders;
  for (size_t t = 1; t < threads; ++t) loaders.emplace_back(load);
  load();
  for (auto& loader : loaders) loader.join();
  {
    MutexLock lock(failed_mu_);
    pending_.clear();
    pending_count_ = 0;
  }
  // Blobs without a record are leftovers of a push interrupted by a crash.
  std::set<std::string> known_blobs;
  for (const auto& record : *records) known_blobs.insert(record.artifact_id + ".blob");
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(options_.blobs_dir, ec)) {
    const std::string file = entry.path().filename().string();
    if (!known_blobs.contains(file)) {
      spdlog::warn("removing orphaned blob {}", file);
      std::filesystem::remove(entry.path(), ec);
    }
  }
  const auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  spdlog::info("loaded {} of {} model versions in {:.2f} s ({} at once)", records->size() - failures.size(),
               records->size(), took, threads);
  loaded_ = true;
  return failures;
}

Status Registry::LoadRecorded(const store::ModelVersionRecord& record,
                              const StatusOr<std::vector<store::TrustedKeyRecord>>& trusted) {
  StatusOr<std::shared_ptr<ServedModel>> model =
      trusted.ok() ? LoadVersion(record, *trusted) : StatusOr<std::shared_ptr<ServedModel>>(trusted.status());
  Status loaded = model.ok() ? Publish(std::move(*model)) : model.status();
  const ModelKey key{record.name, record.version};
  if (loaded.ok()) {
    MutexLock lock(failed_mu_);
    pending_.erase(key);
    pending_count_ = static_cast<int>(pending_.size());
    return Status::Ok();
  }
  Status why = loaded.WithContext("model " + record.name + " version " + record.version);
  log::Error({.model = record.name, .version = record.version}, "not serving {}", why.message());
  // A tampered blob (DataLoss) is as much an integrity failure as a bad signature.
  if (IsIntegrityFailure(why) || why.code() == StatusCode::kDataLoss) ++integrity_failures_;
  if (options_.on_load_failure) options_.on_load_failure(record.name, record.version, why);
  CountLoadFailure(record.name);
  {
    MutexLock lock(failed_mu_);
    failed_[key] = why;
    failed_count_ = static_cast<int>(failed_.size());
    pending_.erase(key);
    pending_count_ = static_cast<int>(pending_.size());
  }
  return why;
}

void Registry::ResolveRequired(const std::vector<store::ModelVersionRecord>& records) {
  for (const std::string& entry : options_.required_models) {
    const size_t slash = entry.find('/');
    const std::string name = entry.substr(0, slash);
    const store::ModelVersionRecord* pick = nullptr;
    for (const auto& record : records) {
      if (record.name != name) continue;
      if (slash != std::string::npos ? record.version == entry.substr(slash + 1)
                                     : (pick == nullptr || record.sequence > pick->sequence)) {
        pick = &record;
      }
    }
    if (pick == nullptr) {
      spdlog::warn("required model {} is not in the registry: readiness does not wait for it", entry);
      continue;
    }
    required_.insert(ModelKey{pick->name, pick->version});
  }
}

bool Registry::Ready() const {
  if (!loaded_.load()) return false;
  if (failed_count_.load() == 0) return true;
  MutexLock lock(failed_mu_);
  if (failed_.contains(ModelKey{})) return false;  // the versions could not even be listed
  for (const ModelKey& key : required_) {
    if (failed_.contains(key)) return false;
  }
  return true;
}

std::optional<Status> Registry::Loading(std::string_view name, std::string_view version) const {
  if (pending_count_.load() == 0) return std::nullopt;
  MutexLock lock(failed_mu_);
  const auto first = pending_.lower_bound(ModelKey{std::string(name), std::string(version)});
  if (first == pending_.end() || first->name != name || (!version.empty() && first->version != version)) {
    return std::nullopt;
  }
  return Status::Unavailable(version.empty() ? "model '" + std::string(name) + "' is loading"
                                             : "version '" + std::string(version) + "' of model '" + std::string(name) +
                                                   "' is loading");
}

StatusOr<std::shared_ptr<ServedModel>> Registry::LoadVersion(const store::ModelVersionRecord& record,
                                                             const std::vector<store::TrustedKeyRecord>& trusted) {
  auto format = runtime::ParseModelFormat(record.format);
  auto id = ParseArtifactId(record.artifact_id);
  if (!format || !id) return Status::DataLoss("corrupt metadata");
  if (!record.signature && options_.require_signature) {
    return internal::IntegrityFailure("the version is unsigned and registry.require_signature is on");
  }
  const auto load_started = std::chrono::steady_clock::now();
  AEGIS_ASSIGN_OR_RETURN(auto dek, kek_->Unwrap(record.wrapped_dek, *id));
  auto started = std::chrono::steady_clock::now();
  if (store_->KeepsArtifacts()) {
    // Another replica may have pushed it: the ciphertext comes from the
    // database into blobs/ (bounded by the recorded size plus the blob
    // format's per-chunk overhead) and is checked below like any blob.
    AEGIS_RETURN_IF_ERROR(store::FetchArtifact(*store_, record.artifact_id, BlobPath(record.artifact_id),
                                               record.size_bytes + record.size_bytes / 64 + (64u << 10)));
  }
  AEGIS_ASSIGN_OR_RETURN(auto plaintext, store::ReadBlob(BlobPath(record.artifact_id), *id, dek.span()));
  double decrypt_ms = MillisSince(started);
  // Defence in depth: the digest recorded at push must still match, and so must
  // the signed manifest, verified again with the key that is trusted now.
  const crypto::Sha256Digest digest = crypto::Sha256(plaintext.span());
  if (crypto::HexEncode(digest) != record.sha256) {
    return Status::DataLoss("artifact digest does not match the registry");
  }
  if (record.signature) {
    AEGIS_ASSIGN_OR_RETURN(auto manifest, internal::ReverifyStored(*record.signature, record.name, trusted));
    Status matches = signing::CheckSingleFile(manifest, plaintext.span(), digest);
    if (!matches.ok())
      return internal::IntegrityFailure("the stored model is not the signed model: " + matches.message());
  }
  size_t findings = 0;
  Status scanned = internal::ScanArtifact(*format, plaintext.span(), findings);
  scan_findings_ += findings;
  AEGIS_RETURN_IF_ERROR(scanned);
  started = std::chrono::steady_clock::now();
  AEGIS_ASSIGN_OR_RETURN(auto instances, runtime::ModelInstances::Load(*format, plaintext.span(),
                                                                       RuntimeFor(record.name, record.version)));
  double engine_ms = MillisSince(started);
  double mb = static_cast<double>(plaintext.size()) / 1e6;
  log::Info({.model = record.name, .version = record.version},
            "loaded model {} version {}: {:.1f} MB, decrypt {:.1f} ms ({:.0f} MB/s), engine load {:.1f} ms",
            record.name, record.version, mb, decrypt_ms, decrypt_ms > 0 ? mb / (decrypt_ms / 1e3) : 0.0, engine_ms);
  return std::make_shared<ServedModel>(
      ServedModel{record, std::move(instances), std::chrono::steady_clock::now() - load_started});
}

runtime::RuntimeOptions Registry::RuntimeFor(const std::string& name, const std::string& version) const {
  runtime::RuntimeOptions options = options_.runtime;
  if (auto it = options_.models.find(name); it != options_.models.end()) {
    if (it->second.instances) options.instances = *it->second.instances;
    if (it->second.memory_limit_bytes) options.memory_limit_bytes = *it->second.memory_limit_bytes;
    if (it->second.request_timeout) options.request_timeout = *it->second.request_timeout;
    if (it->second.onnx_engine) options.onnx_engine = *it->second.onnx_engine;
  }
  options.label = name + "/" + version;
  if (options_.on_runtime_event) {
    options.on_event = [hook = options_.on_runtime_event, name, version](const runtime::RuntimeEvent& event) {
      hook(name, version, event);
    };
  }
  return options;
}

void Registry::ShutdownRuntime() {
  for (const auto& model : Served()) model->instances->Shutdown();
}

Status Registry::CountIntegrity(Status status) {
  if (IsIntegrityFailure(status)) ++integrity_failures_;
  return status;
}

void Registry::CountLoadFailure(const std::string& name) {
  MutexLock lock(failed_mu_);
  ++load_failures_[name];
}

std::map<std::string, uint64_t, std::less<>> Registry::LoadFailures() const {
  MutexLock lock(failed_mu_);
  return load_failures_;
}

void Registry::MarkFailed(const ModelKey& key, const Status& why) {
  MutexLock lock(failed_mu_);
  failed_[key] = why;
  failed_count_ = static_cast<int>(failed_.size());
}

StatusOr<std::unique_ptr<PushSession>> Registry::BeginPush(const std::string& name, const std::string& version,
                                                           runtime::ModelFormat format, const std::string& principal,
                                                           std::string_view signature_bundle) {
  if (!IsValidModelName(name)) return Status::InvalidArgument(std::string(kModelNameRule));
  if (!IsValidVersion(version)) return Status::InvalidArgument(std::string(kModelVersionRule));
  // The signature is checked before a byte of the model is accepted.
  std::optional<internal::VerifiedSignature> signature;
  if (!signature_bundle.empty()) {
    AEGIS_ASSIGN_OR_RETURN(auto trusted, store_->ListTrustedKeys());
    auto verified = internal::VerifyForModel(signature_bundle, name, trusted);
    if (!verified.ok()) return CountIntegrity(verified.status());
    signature = std::move(verified).value();
  } else if (options_.require_signature) {
    return CountIntegrity(
        internal::IntegrityFailure("a signature bundle from a trusted publisher is required "
                                   "(registry.require_signature); push with --signature BUNDLE"));
  }
  const ModelKey key{name, version};
  {
    MutexLock lock(write_mu_);
    if (pushing_.contains(key))
      return Status::AlreadyExists("model " + name + " version " + version + " is being pushed");
    // The store knows every version, served or not (one that failed to load too).
    if (store_->GetModelVersion(name, version).ok()) {
      return Status::AlreadyExists("model " + name + " version " + version + " already exists");
    }
    pushing_.insert(key);
  }
  auto impl = std::make_unique<PushSession::Impl>();
  impl->registry = this;
  impl->reservation = key;
  impl->format = format;
  impl->record.name = name;
  impl->record.version = version;
  impl->record.format = std::string(runtime::ModelFormatName(format));
  impl->record.created_by = principal;
  impl->signature = std::move(signature);
  auto session = std::unique_ptr<PushSession>(new PushSession(std::move(impl)));
  PushSession::Impl& s = *session->impl_;
  // From here on, destroying `session` releases the reservation.
  AEGIS_RETURN_IF_ERROR(crypto::RandomBytes(s.artifact_id));
  s.dek = crypto::SecureBuffer(32);
  AEGIS_RETURN_IF_ERROR(crypto::RandomBytes(s.dek.span()));
  s.record.artifact_id = crypto::HexEncode(s.artifact_id);
  AEGIS_ASSIGN_OR_RETURN(s.writer,
                         store::BlobWriter::Create(BlobPath(s.record.artifact_id), s.artifact_id, s.dek.span()));
  return session;
}

Status Registry::Remove(const std::string& name, const std::string& version) {
  AEGIS_ASSIGN_OR_RETURN(auto record, store_->GetModelVersion(name, version));
  {
    MutexLock lock(write_mu_);
    // A push that has recorded this version but not yet published it would
    // publish it after the removal: a deleted version served until restart.
    if (pushing_.contains(ModelKey{name, version})) {
      return Status::AlreadyExists("model " + name + " version " + version + " is being pushed");
    }
    AEGIS_RETURN_IF_ERROR(store_->DeleteModelVersion(name, version));
    Unpublish(name, version);
  }
  {
    MutexLock lock(failed_mu_);
    failed_.erase(ModelKey{name, version});
    failed_count_ = static_cast<int>(failed_.size());
  }
  std::error_code ec;
  std::filesystem::remove(BlobPath(record.artifact_id), ec);
  if (ec) spdlog::warn("could not remove blob of {} {}: {}", name, version, ec.message());
  if (store_->KeepsArtifacts()) {
    const Status deleted = store_->DeleteArtifact(record.artifact_id);
    if (!deleted.ok())
      spdlog::warn("could not remove the stored artifact of {} {}: {}", name, version, deleted.message());
  }
  return Status::Ok();
}

StatusOr<std::vector<store::ModelVersionRecord>> Registry::List() const { return store_->ListModelVersions(); }

StatusOr<store::TrustedKeyRecord> Registry::AddTrustedKey(const std::string& name, std::string_view public_key_pem,
                                                          const std::string& models_glob,
                                                          const std::string& principal) {
  if (!IsValidKeyName(name)) return Status::InvalidArgument("invalid trusted key name");
  if (!IsValidModelGlob(models_glob)) {
    return Status::InvalidArgument("invalid model glob: use model-name characters and * ? [ ] !");
  }
  AEGIS_ASSIGN_OR_RETURN(auto key, crypto::PublicKey::FromPem(public_key_pem));
  store::TrustedKeyRecord record{name,
                                 std::string(crypto::KeyTypeName(key.type())),
                                 key.fingerprint(),
                                 key.ToPem(),
                                 models_glob,
                                 FormatRfc3339(clock_.Now()),
                                 principal};
  AEGIS_RETURN_IF_ERROR(store_->InsertTrustedKey(record));
  spdlog::info("trusted key {} ({}, {}) added for models '{}'", name, record.key_type, record.fingerprint, models_glob);
  return record;
}

StatusOr<std::vector<std::string>> Registry::RemoveTrustedKey(const std::string& name) {
  AEGIS_ASSIGN_OR_RETURN(auto keys, store_->ListTrustedKeys());
  std::string fingerprint;
  for (const auto& key : keys) {
    if (key.name == name) fingerprint = key.fingerprint;
  }
  // Revocation: what this key signed stops serving now, not at the next restart.
  // Under write_mu_, as Publish checks the signer: a push signed by this key is
  // either in the table walked here or finds the key gone when it publishes.
  std::vector<std::string> withdrawn;
  const Status why = internal::IntegrityFailure("signer key '" + name + "' is no longer trusted");
  {
    MutexLock lock(write_mu_);
    AEGIS_RETURN_IF_ERROR(store_->DeleteTrustedKey(name));
    const auto snapshot = table_.load();  // Unpublish replaces table_ while we walk this one
    for (const auto& [model, entry] : *snapshot) {
      for (const auto& [version, served] : entry->versions) {
        const auto& sig = served->record.signature;
        if (!sig || sig->fingerprint != fingerprint) continue;
        Unpublish(model, version);
        MarkFailed({model, version}, why);
        withdrawn.push_back(model + "/" + version);
        log::Warn({.model = model, .version = version}, "model {} version {} withdrawn: {}", model, version,
                  why.message());
      }
    }
  }
  spdlog::warn("trusted key {} removed; {} version(s) withdrawn", name, withdrawn.size());
  return withdrawn;
}

StatusOr<std::vector<store::TrustedKeyRecord>> Registry::ListTrustedKeys() const { return store_->ListTrustedKeys(); }

StatusOr<std::shared_ptr<const ModelEntry>> Registry::FindEntry(std::string_view name) const {
  auto table = table_.load();
  auto it = table->find(name);
  if (it != table->end()) return it->second;
  if (auto loading = Loading(name, "")) return *loading;
  if (failed_count_.load() > 0) {
    MutexLock lock(failed_mu_);
    // Keys are ordered by name first: the first key not below (name, "") is this
    // name's if it has any.
    const auto first = failed_.lower_bound(ModelKey{std::string(name), ""});
    if (first != failed_.end() && first->first.name == name) {
      return Status::Unavailable("model '" + std::string(name) + "' could not be loaded; see the server log");
    }
  }
  return Status::NotFound("unknown model '" + std::string(name) + "'");
}

StatusOr<std::shared_ptr<const ServedModel>> Registry::Find(std::string_view name, std::string_view version) const {
  AEGIS_ASSIGN_OR_RETURN(auto entry, FindEntry(name));
  if (version.empty()) {
    // The newest version may be one still loading: not an older one meanwhile.
    if (auto loading = Loading(name, "")) return *loading;
    // The newest version withdrawn: the name answers 503 rather than quietly
    // falling back to an older version nobody chose.
    if (withdrawn_count_.load() > 0 && IsWithdrawn(name, entry->newest->record.version)) {
      return Withdrawn(name, entry->newest->record.version);
    }
    return entry->newest;
  }
  if (withdrawn_count_.load() > 0 && IsWithdrawn(name, version)) return Withdrawn(name, version);
  auto it = entry->versions.find(std::string(version));
  if (it == entry->versions.end()) {
    if (auto loading = Loading(name, version)) return *loading;
    if (failed_count_.load() > 0) {
      MutexLock lock(failed_mu_);
      if (failed_.contains(ModelKey{std::string(name), std::string(version)})) {
        return Status::Unavailable("version '" + std::string(version) + "' of model '" + std::string(name) +
                                   "' could not be loaded; see the server log");
      }
    }
    return Status::NotFound("unknown version '" + std::string(version) + "' of model '" + std::string(name) + "'");
  }
  return it->second;
}

Status Registry::Withdraw(const std::string& name, const std::string& version, const std::string& holder) {
  // A version still loading at start may be held too (incidents re-apply their
  // withdrawals before the listeners open): it never serves until released.
  auto model = Find(name, version);
  const auto recorded_not_loaded = [&] {
    return Loading(name, version).has_value() || (!loaded_.load() && store_->GetModelVersion(name, version).ok());
  };
  if (!model.ok() && !IsWithdrawn(name, version) && !recorded_not_loaded()) {
    return Status::NotFound("version '" + version + "' of model '" + name + "' is not served");
  }
  MutexLock lock(withdrawn_mu_);
  withdrawn_[ModelKey{name, version}].insert(holder);
  withdrawn_count_ = static_cast<int>(withdrawn_.size());
  log::Warn({.model = name, .version = version}, "model {} version {} withdrawn by {}", name, version, holder);
  return Status::Ok();
}

bool Registry::Reinstate(const std::string& name, const std::string& version, const std::string& holder) {
  MutexLock lock(withdrawn_mu_);
  const auto it = withdrawn_.find(ModelKey{name, version});
  if (it == withdrawn_.end()) return true;
  it->second.erase(holder);
  if (!it->second.empty()) return false;
  withdrawn_.erase(it);
  withdrawn_count_ = static_cast<int>(withdrawn_.size());
  log::Info({.model = name, .version = version}, "model {} version {} reinstated", name, version);
  return true;
}

bool Registry::IsWithdrawn(std::string_view name, std::string_view version) const {
  MutexLock lock(withdrawn_mu_);
  return withdrawn_.contains(ModelKey{std::string(name), std::string(version)});
}

std::vector<std::shared_ptr<const ServedModel>> Registry::Served() const {
  const auto table = table_.load();
  std::vector<std::shared_ptr<const ServedModel>> out;
  for (const auto& [name, entry] : *table) {
    for (const auto& [version, model] : entry->versions) out.push_back(model);
  }
  return out;
}

Status Registry::Publish(const std::shared_ptr<const ServedModel>& model) {
  MutexLock lock(write_mu_);
  // The signature was verified when the push began (or at load); the key may
  // have been removed since. RemoveTrustedKey withdraws under write_mu_ too.
  if (const auto& sig = model->record.signature) {
    AEGIS_ASSIGN_OR_RETURN(auto trusted, store_->ListTrustedKeys());
    const bool still_trusted = std::any_of(trusted.begin(), trusted.end(),
                                           [&](const auto& key) { return key.fingerprint == sig->fingerprint; });
    if (!still_trusted) return internal::IntegrityFailure("signer key '" + sig->signer + "' is no longer trusted");
  }
  auto table = std::make_shared<Table>(*table_.load());
  auto entry = std::make_shared<ModelEntry>();
  if (auto it = table->find(model->record.name); it != table->end()) *entry = *it->second;
  entry->versions[model->record.version] = model;
  if (!entry->newest || model->record.sequence >= entry->newest->record.sequence) entry->newest = model;
  (*table)[model->record.name] = std::move(entry);
  ReplaceTable(std::move(table));
  return Status::Ok();
}

void Registry::Unpublish(const std::string& name, const std::string& version) {
  auto table = std::make_shared<Table>(*table_.load());
  auto it = table->find(name);
  if (it == table->end()) return;
  auto entry = std::make_shared<ModelEntry>(*it->second);
  entry->versions.erase(version);
  if (entry->versions.empty()) {
    table->erase(it);
  } else {
    entry->newest = nullptr;
    for (const auto& [v, m] : entry->versions) {
      if (!entry->newest || m->record.sequence > entry->newest->record.sequence) entry->newest = m;
    }
    it->second = std::move(entry);
  }
  ReplaceTable(std::move(table));
}

void Registry::ReplaceTable(std::shared_ptr<const Table> table) { table_.store(std::move(table)); }

void Registry::ReleaseReservation(const ModelKey& key) {
  MutexLock lock(write_mu_);
  pushing_.erase(key);
}

}  // namespace aegis::registry
