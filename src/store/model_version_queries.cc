// SqliteMetadataStore: the model_versions table.
#include <limits>

#include "sqlite_metadata_store.h"

namespace aegis::store::internal {
namespace {

constexpr const char* kModelColumns =
    "name, version, format, artifact_id, sha256, size_bytes, wrapped_dek, kek_id, created_at, created_by, sequence, "
    "signer, signer_fingerprint, subject_digest, signature_bundle";

ModelVersionRecord ReadModel(const Statement& s) {
  ModelVersionRecord r;
  r.name = s.Text(0);
  r.version = s.Text(1);
  r.format = s.Text(2);
  r.artifact_id = s.Text(3);
  r.sha256 = s.Text(4);
  r.size_bytes = static_cast<uint64_t>(s.Int(5));
  r.wrapped_dek = s.Blob(6);
  r.kek_id = s.Text(7);
  r.created_at = s.Text(8);
  r.created_by = s.Text(9);
  r.sequence = s.Int(10);
  // The four signature columns are written together or not at all.
  if (auto signer = s.OptionalText(11)) {
    r.signature = SignatureRecord{*signer, s.Text(12), s.Text(13), s.Text(14)};
  }
  return r;
}

}  // namespace

Status SqliteMetadataStore::PrepareModelStatements() {
  const std::string select = std::string("SELECT ") + kModelColumns + " FROM model_versions";
  AEGIS_RETURN_IF_ERROR(insert_model_.Prepare(
      db_,
      "INSERT INTO model_versions (name, version, format, artifact_id, sha256, size_bytes, wrapped_dek, "
      "kek_id, created_at, created_by, signer, signer_fingerprint, subject_digest, signature_bundle) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  AEGIS_RETURN_IF_ERROR(get_model_.Prepare(db_, (select + " WHERE name = ? AND version = ?").c_str()));
  AEGIS_RETURN_IF_ERROR(list_models_.Prepare(db_, (select + " ORDER BY name, sequence").c_str()));
  return delete_model_.Prepare(db_, "DELETE FROM model_versions WHERE name = ? AND version = ?");
}

StatusOr<int64_t> SqliteMetadataStore::InsertModelVersion(ModelVersionRecord r) {
  if (r.size_bytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return Status::InvalidArgument("model size out of range");
  }
  std::lock_guard lock(mu_);
  Statement& s = insert_model_;
  s.BindText(1, r.name);
  s.BindText(2, r.version);
  s.BindText(3, r.format);
  s.BindText(4, r.artifact_id);
  s.BindText(5, r.sha256);
  s.BindInt(6, static_cast<int64_t>(r.size_bytes));
  s.BindBlob(7, r.wrapped_dek);
  s.BindText(8, r.kek_id);
  s.BindText(9, r.created_at);
  s.BindText(10, r.created_by);
  const SignatureRecord* sig = r.signature ? &*r.signature : nullptr;
  auto optional = [](const std::string* field) { return field ? std::optional<std::string>(*field) : std::nullopt; };
  s.BindOptionalText(11, optional(sig ? &sig->signer : nullptr));
  s.BindOptionalText(12, optional(sig ? &sig->fingerprint : nullptr));
  s.BindOptionalText(13, optional(sig ? &sig->subject_digest : nullptr));
  s.BindOptionalText(14, optional(sig ? &sig->bundle : nullptr));
  const int rc = s.Step();
  Status status = SqliteStatus(db_, rc, "inserting model version");
  s.Reset();
  if (status.detail() == ErrorDetail::kUniqueViolation) {
    // Keep SQLite's wording out of client-facing errors; name the clash instead.
    // Two UNIQUE constraints share the code, so the data says which one it was.
    AEGIS_ASSIGN_OR_RETURN(const bool version_taken, HasModelVersion(r.name, r.version));
    return Status::AlreadyExists(version_taken ? "model " + r.name + " version " + r.version + " already exists"
                                               : "artifact " + r.artifact_id + " is already registered");
  }
  AEGIS_RETURN_IF_ERROR(status);
  // sequence is the rowid; read under mu_, so it is this insert's.
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db_));
}

StatusOr<bool> SqliteMetadataStore::HasModelVersion(const std::string& name, const std::string& version) {
  get_model_.BindText(1, name);
  get_model_.BindText(2, version);
  const int rc = get_model_.Step();
  Status status = SqliteStatus(db_, rc, "reading model version");
  get_model_.Reset();
  AEGIS_RETURN_IF_ERROR(status);
  return rc == SQLITE_ROW;
}

StatusOr<ModelVersionRecord> SqliteMetadataStore::GetModelVersion(const std::string& name, const std::string& version) {
  std::lock_guard lock(mu_);
  get_model_.BindText(1, name);
  get_model_.BindText(2, version);
  return FetchOne<ModelVersionRecord>(get_model_, ReadModel,
                                      Status::NotFound("model " + name + " version " + version + " not found"),
                                      "reading model version");
}

StatusOr<std::vector<ModelVersionRecord>> SqliteMetadataStore::ListModelVersions() {
  std::lock_guard lock(mu_);
  return Collect<ModelVersionRecord>(list_models_, ReadModel, "listing model versions");
}

Status SqliteMetadataStore::DeleteModelVersion(const std::string& name, const std::string& version) {
  std::lock_guard lock(mu_);
  delete_model_.BindText(1, name);
  delete_model_.BindText(2, version);
  return ExecuteOne(delete_model_, "deleting model version", "model " + name + " version " + version + " not found");
}

}  // namespace aegis::store::internal
