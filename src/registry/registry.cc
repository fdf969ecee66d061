#include "aegis/registry/registry.h"

#include <chrono>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "aegis/crypto/encoding.h"
#include "aegis/crypto/hash.h"
#include "aegis/crypto/random.h"
#include "aegis/crypto/secure_buffer.h"
#include "aegis/store/encrypted_blob.h"

namespace aegis::registry {
namespace {

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

// ---------------------------------------------------------------------------
// PushSession

struct PushSession::Impl {
  Registry* registry = nullptr;
  std::string reservation;
  store::ModelVersionRecord record;
  runtime::ModelFormat format{};
  store::ArtifactId artifact_id{};
  crypto::SecureBuffer dek;
  crypto::SecureBuffer plaintext;  // kept in memory for the engine; never written
  crypto::Sha256Hasher hasher;
  std::unique_ptr<store::BlobWriter> writer;
  bool done = false;
};

PushSession::PushSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PushSession::~PushSession() { Abort(); }

void PushSession::Abort() {
  if (!impl_ || impl_->done) return;
  impl_->done = true;
  impl_->writer.reset();  // removes the partial blob
  impl_->registry->ReleaseReservation(impl_->reservation);
}

Status PushSession::Write(std::span<const uint8_t> chunk) {
  if (impl_->done) return Status::Internal("push session already finished");
  impl_->hasher.Update(chunk);
  impl_->plaintext.append(chunk.data(), chunk.size());
  return impl_->writer->Append(chunk);
}

StatusOr<std::shared_ptr<const ServedModel>> PushSession::Finish() {
  Impl& s = *impl_;
  if (s.done) return Status::Internal("push session already finished");
  Registry& r = *s.registry;
  auto fail = [&](Status st) -> Status {
    Abort();
    return st;
  };
  if (s.plaintext.empty()) return fail(Status::InvalidArgument("empty model file"));

  // The engine decides whether these bytes are a model it can run.
  auto started = std::chrono::steady_clock::now();
  auto instances = runtime::ModelInstances::Load(s.format, s.plaintext.span(), r.options_.instances_per_model);
  if (!instances.ok()) return fail(instances.status().WithContext("the engine refused the model"));
  double engine_ms = MillisSince(started);

  auto size = s.writer->Commit();
  if (!size.ok()) return fail(size.status());
  const auto blob_path = r.BlobPath(s.record.artifact_id);
  auto remove_blob = [&] { ::unlink(blob_path.c_str()); };

  auto wrapped = r.kek_->Wrap(s.dek.span(), s.artifact_id);
  if (!wrapped.ok()) {
    remove_blob();
    return fail(wrapped.status());
  }
  auto digest = s.hasher.Finish();
  s.record.sha256 = crypto::HexEncode(digest);
  s.record.size_bytes = *size;
  s.record.wrapped_dek = std::move(*wrapped);
  s.record.kek_id = r.kek_->KeyId();
  s.record.created_at = FormatRfc3339(r.clock_.Now());
  Status inserted = r.store_->InsertModelVersion(s.record);
  if (!inserted.ok()) {
    remove_blob();
    return fail(inserted);
  }
  // Read back the record so the push sequence the store assigned is known.
  auto stored = r.store_->GetModelVersion(s.record.name, s.record.version);
  if (stored.ok()) s.record = std::move(*stored);

  auto model = std::make_shared<ServedModel>(ServedModel{s.record, std::move(*instances)});
  Status published = r.Publish(model);
  s.done = true;
  r.ReleaseReservation(s.reservation);
  if (!published.ok()) return published;
  spdlog::info("pushed model {} version {} ({} bytes, engine load {:.1f} ms)", s.record.name, s.record.version,
               s.record.size_bytes, engine_ms);
  return std::shared_ptr<const ServedModel>(model);
}

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
  std::vector<Status> failures;
  auto records = store_->ListModelVersions();
  if (!records.ok()) {
    failures.push_back(records.status());
    std::lock_guard lock(failed_mu_);
    failed_["\n"] = records.status();
    failed_count_ = 1;
    return failures;
  }
  std::set<std::string> known_blobs;
  for (const auto& record : *records) {
    known_blobs.insert(record.artifact_id + ".blob");
    const std::string what = "model " + record.name + " version " + record.version;
    auto fail = [&](const Status& status) {
      failures.push_back(status);
      std::lock_guard lock(failed_mu_);
      failed_[record.name + "\n" + record.version] = status;
    };
    auto format = runtime::ParseModelFormat(record.format);
    auto id = ParseArtifactId(record.artifact_id);
    if (!format || !id) {
      fail(Status::DataLoss(what + ": corrupt metadata"));
      continue;
    }
    auto dek = kek_->Unwrap(record.wrapped_dek, *id);
    if (!dek.ok()) {
      fail(dek.status().WithContext(what + ": cannot unwrap data key"));
      continue;
    }
    auto started = std::chrono::steady_clock::now();
    auto plaintext = store::ReadBlob(BlobPath(record.artifact_id), *id, dek->span());
    if (!plaintext.ok()) {
      fail(plaintext.status().WithContext(what));
      continue;
    }
    double decrypt_ms = MillisSince(started);
    // Defence in depth: the digest recorded at push must still match.
    if (crypto::HexEncode(crypto::Sha256(plaintext->span())) != record.sha256) {
      fail(Status::DataLoss(what + ": artifact digest does not match the registry"));
      continue;
    }
    started = std::chrono::steady_clock::now();
    auto instances = runtime::ModelInstances::Load(*format, plaintext->span(), options_.instances_per_model);
    if (!instances.ok()) {
      fail(instances.status().WithContext(what));
      continue;
    }
    double engine_ms = MillisSince(started);
    double mb = static_cast<double>(plaintext->size()) / 1e6;
    spdlog::info("loaded model {} version {}: {:.1f} MB, decrypt {:.1f} ms ({:.0f} MB/s), engine load {:.1f} ms",
                 record.name, record.version, mb, decrypt_ms, decrypt_ms > 0 ? mb / (decrypt_ms / 1e3) : 0.0,
                 engine_ms);
    (void)Publish(std::make_shared<ServedModel>(ServedModel{record, std::move(*instances)}));
  }
  // Blobs without a record are leftovers of a push interrupted by a crash.
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(options_.blobs_dir, ec)) {
    const std::string file = entry.path().filename().string();
    if (!known_blobs.count(file)) {
      spdlog::warn("removing orphaned blob {}", file);
      std::filesystem::remove(entry.path(), ec);
    }
  }
  for (const auto& f : failures) spdlog::error("not serving {}", f.message());
  failed_count_ = static_cast<int>(failures.size());
  loaded_ = true;
  return failures;
}

StatusOr<std::unique_ptr<PushSession>> Registry::BeginPush(const std::string& name, const std::string& version,
                                                           runtime::ModelFormat format,
                                                           const std::string& principal) {
  if (!IsValidModelName(name)) return Status::InvalidArgument("invalid model name");
  if (!IsValidVersion(version)) return Status::InvalidArgument("invalid model version");
  const std::string key = name + "\n" + version;
  {
    std::lock_guard lock(write_mu_);
    if (pushing_.count(key)) return Status::AlreadyExists("model " + name + " version " + version + " is being pushed");
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
  auto session = std::unique_ptr<PushSession>(new PushSession(std::move(impl)));
  PushSession::Impl& s = *session->impl_;
  // From here on, destroying `session` releases the reservation.
  AEGIS_RETURN_IF_ERROR(crypto::RandomBytes(s.artifact_id));
  s.dek = crypto::SecureBuffer(32);
  AEGIS_RETURN_IF_ERROR(crypto::RandomBytes(s.dek.span()));
  s.record.artifact_id = crypto::HexEncode(s.artifact_id);
  AEGIS_ASSIGN_OR_RETURN(s.writer, store::BlobWriter::Create(BlobPath(s.record.artifact_id), s.artifact_id,
                                                            s.dek.span()));
  return session;
}

Status Registry::Remove(const std::string& name, const std::string& version) {
  AEGIS_ASSIGN_OR_RETURN(auto record, store_->GetModelVersion(name, version));
  AEGIS_RETURN_IF_ERROR(store_->DeleteModelVersion(name, version));
  Unpublish(name, version);
  {
    std::lock_guard lock(failed_mu_);
    failed_.erase(name + "\n" + version);
    failed_count_ = static_cast<int>(failed_.size());
  }
  std::error_code ec;
  std::filesystem::remove(BlobPath(record.artifact_id), ec);
  if (ec) spdlog::warn("could not remove blob of {} {}: {}", name, version, ec.message());
  return Status::Ok();
}

StatusOr<std::vector<store::ModelVersionRecord>> Registry::List() const { return store_->ListModelVersions(); }

StatusOr<std::shared_ptr<const ModelEntry>> Registry::FindEntry(std::string_view name) const {
  auto table = table_.load();
  auto it = table->find(name);
  if (it != table->end()) return it->second;
  if (failed_count_.load() > 0) {
    std::lock_guard lock(failed_mu_);
    for (const auto& [key, status] : failed_) {
      if (key.substr(0, key.find('\n')) == name) {
        return Status::Unavailable("model '" + std::string(name) + "' could not be loaded; see the server log");
      }
    }
  }
  return Status::NotFound("unknown model '" + std::string(name) + "'");
}

StatusOr<std::shared_ptr<const ServedModel>> Registry::Find(std::string_view name, std::string_view version) const {
  AEGIS_ASSIGN_OR_RETURN(auto entry, FindEntry(name));
  if (version.empty()) return entry->newest;
  auto it = entry->versions.find(std::string(version));
  if (it == entry->versions.end()) {
    if (failed_count_.load() > 0) {
      std::lock_guard lock(failed_mu_);
      if (failed_.count(std::string(name) + "\n" + std::string(version))) {
        return Status::Unavailable("version '" + std::string(version) + "' of model '" + std::string(name) +
                                   "' could not be loaded; see the server log");
      }
    }
    return Status::NotFound("unknown version '" + std::string(version) + "' of model '" + std::string(name) + "'");
  }
  return it->second;
}

Status Registry::Publish(std::shared_ptr<const ServedModel> model) {
  std::lock_guard lock(write_mu_);
  auto table = std::make_shared<Table>(*table_.load());
  auto entry = std::make_shared<ModelEntry>();
  if (auto it = table->find(model->record.name); it != table->end()) *entry = *it->second;
  entry->versions[model->record.version] = model;
  if (!entry->newest || model->record.sequence >= entry->newest->record.sequence) entry->newest = model;
  (*table)[model->record.name] = std::move(entry);
  table_.store(std::move(table));
  return Status::Ok();
}

void Registry::Unpublish(const std::string& name, const std::string& version) {
  std::lock_guard lock(write_mu_);
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
  table_.store(std::move(table));
}

void Registry::ReleaseReservation(const std::string& key) {
  std::lock_guard lock(write_mu_);
  pushing_.erase(key);
}

}  // namespace aegis::registry
