// SqliteMetadataStore and PostgresMetadataStore: the artifact_chunks table.
#include "postgres_metadata_store.h"
#include "sqlite_metadata_store.h"

namespace aegis::store::internal {
namespace {

Status CheckChunk(int64_t seq, std::span<const uint8_t> data) {
  if (seq < 0) return Status::InvalidArgument("an artifact chunk's number is negative");
  if (data.size() > kMaxArtifactChunkBytes) {
    return Status::TooLarge("an artifact chunk is larger than " + std::to_string(kMaxArtifactChunkBytes) + " bytes");
  }
  return Status::Ok();
}

std::string NoChunk(const std::string& artifact_id, int64_t seq) {
  return "artifact " + artifact_id + " has no chunk " + std::to_string(seq);
}

}  // namespace

Status SqliteMetadataStore::PrepareArtifactStatements() {
  AEGIS_RETURN_IF_ERROR(
      put_chunk_.Prepare(db_, "INSERT OR REPLACE INTO artifact_chunks (artifact_id, seq, data) VALUES (?, ?, ?)"));
  AEGIS_RETURN_IF_ERROR(get_chunk_.Prepare(db_, "SELECT data FROM artifact_chunks WHERE artifact_id = ? AND seq = ?"));
  return delete_artifact_.Prepare(db_, "DELETE FROM artifact_chunks WHERE artifact_id = ?");
}

Status SqliteMetadataStore::PutArtifactChunk(const std::string& artifact_id, int64_t seq,
                                             std::span<const uint8_t> data) {
  AEGIS_RETURN_IF_ERROR(CheckChunk(seq, data));
  std::lock_guard lock(mu_);
  put_chunk_.BindText(1, artifact_id);
  put_chunk_.BindInt(2, seq);
  put_chunk_.BindBlob(3, data);
  Status status = SqliteStatus(db_, put_chunk_.Step(), "storing artifact chunk");
  put_chunk_.Reset();
  return status;
}

StatusOr<std::vector<uint8_t>> SqliteMetadataStore::GetArtifactChunk(const std::string& artifact_id, int64_t seq) {
  std::lock_guard lock(mu_);
  get_chunk_.BindText(1, artifact_id);
  get_chunk_.BindInt(2, seq);
  return FetchOne<std::vector<uint8_t>>(
      get_chunk_, [](const Statement& s) { return s.Blob(0); }, Status::NotFound(NoChunk(artifact_id, seq)),
      "reading artifact chunk");
}

Status SqliteMetadataStore::DeleteArtifact(const std::string& artifact_id) {
  std::lock_guard lock(mu_);
  delete_artifact_.BindText(1, artifact_id);
  Status status = SqliteStatus(db_, delete_artifact_.Step(), "deleting artifact");
  delete_artifact_.Reset();
  return status;
}

Status PostgresMetadataStore::PutArtifactChunk(const std::string& artifact_id, int64_t seq,
                                               std::span<const uint8_t> data) {
  AEGIS_RETURN_IF_ERROR(CheckChunk(seq, data));
  return Execute("storing artifact chunk",
                 "INSERT INTO artifact_chunks (artifact_id, seq, data) VALUES ($1, $2, $3) "
                 "ON CONFLICT (artifact_id, seq) DO UPDATE SET data = EXCLUDED.data",
                 PgParams().Text(artifact_id).Int(seq).Bytes(data));
}

StatusOr<std::vector<uint8_t>> PostgresMetadataStore::GetArtifactChunk(const std::string& artifact_id, int64_t seq) {
  return FetchOne<std::vector<uint8_t>>(
      "reading artifact chunk", "SELECT data FROM artifact_chunks WHERE artifact_id = $1 AND seq = $2",
      PgParams().Text(artifact_id).Int(seq), [](const PgResult& r, int row) { return r.Bytes(row, 0); },
      Status::NotFound(NoChunk(artifact_id, seq)));
}

Status PostgresMetadataStore::DeleteArtifact(const std::string& artifact_id) {
  return Execute("deleting artifact", "DELETE FROM artifact_chunks WHERE artifact_id = $1",
                 PgParams().Text(artifact_id));
}

}  // namespace aegis::store::internal
