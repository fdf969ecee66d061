// SqliteMetadataStore: the baselines table (input screening).
#include "sqlite_metadata_store.h"

namespace aegis::store::internal {
namespace {

BaselineRecord ReadBaseline(const Statement& s) {
  return {s.Text(0), s.Text(1), s.Blob(2), s.Int(3), s.Text(4), s.Text(5)};
}

std::string NoBaseline(const std::string& name, const std::string& version) {
  return "model '" + name + "' version '" + version + "' has no baseline";
}

}  // namespace

Status SqliteMetadataStore::PrepareBaselineStatements() {
  constexpr const char* kColumns = "name, version, data, rows, created_at, created_by";
  AEGIS_RETURN_IF_ERROR(put_baseline_.Prepare(
      db_, (std::string("INSERT OR REPLACE INTO baselines (") + kColumns + ") VALUES (?, ?, ?, ?, ?, ?)").c_str()));
  AEGIS_RETURN_IF_ERROR(get_baseline_.Prepare(
      db_, (std::string("SELECT ") + kColumns + " FROM baselines WHERE name = ? AND version = ?").c_str()));
  AEGIS_RETURN_IF_ERROR(list_baselines_.Prepare(
      db_, (std::string("SELECT ") + kColumns + " FROM baselines ORDER BY name, version").c_str()));
  return delete_baseline_.Prepare(db_, "DELETE FROM baselines WHERE name = ? AND version = ?");
}

Status SqliteMetadataStore::PutBaseline(const BaselineRecord& r) {
  if (r.data.size() > kMaxBaselineBytes) {
    return Status::TooLarge("a baseline is larger than " + std::to_string(kMaxBaselineBytes) + " bytes");
  }
  std::lock_guard lock(mu_);
  Statement& s = put_baseline_;
  s.BindText(1, r.name);
  s.BindText(2, r.version);
  s.BindBlob(3, r.data);
  s.BindInt(4, r.rows);
  s.BindText(5, r.created_at);
  s.BindText(6, r.created_by);
  Status status = SqliteStatus(db_, s.Step(), "storing baseline");
  s.Reset();
  return status;
}

StatusOr<BaselineRecord> SqliteMetadataStore::GetBaseline(const std::string& name, const std::string& version) {
  std::lock_guard lock(mu_);
  get_baseline_.BindText(1, name);
  get_baseline_.BindText(2, version);
  return FetchOne<BaselineRecord>(get_baseline_, ReadBaseline, Status::NotFound(NoBaseline(name, version)),
                                  "reading baseline");
}

StatusOr<std::vector<BaselineRecord>> SqliteMetadataStore::ListBaselines() {
  std::lock_guard lock(mu_);
  return Collect<BaselineRecord>(list_baselines_, ReadBaseline, "listing baselines");
}

Status SqliteMetadataStore::DeleteBaseline(const std::string& name, const std::string& version) {
  std::lock_guard lock(mu_);
  delete_baseline_.BindText(1, name);
  delete_baseline_.BindText(2, version);
  Status status = SqliteStatus(db_, delete_baseline_.Step(), "deleting baseline");
  delete_baseline_.Reset();
  return status;
}

}  // namespace aegis::store::internal
