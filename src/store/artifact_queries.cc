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

// The database's clock in ms since the epoch, in each dialect. Chunks are
// stamped and swept by it: the replicas' own clocks may disagree.
#define AEGIS_SQLITE_NOW_MS "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
#define AEGIS_PG_NOW_MS "(extract(epoch FROM now()) * 1000)::bigint"

std::string NoChunk(const std::string& artifact_id, int64_t seq) {
  return "artifact " + artifact_id + " has no chunk " + std::to_string(seq);
}

}  // namespace

Status SqliteMetadataStore::PrepareArtifactStatements() {
  AEGIS_RETURN_IF_ERROR(put_chunk_.Prepare(db_,
                                           "INSERT OR REPLACE INTO artifact_chunks (artifact_id, seq, data, stored_ms) "
                                           "VALUES (?, ?, ?, " AEGIS_SQLITE_NOW_MS ")"));
  AEGIS_RETURN_IF_ERROR(get_chunk_.Prepare(db_, "SELECT data FROM artifact_chunks WHERE artifact_id = ? AND seq = ?"));
  AEGIS_RETURN_IF_ERROR(list_orphaned_artifacts_.Prepare(
      db_,
      "SELECT c.artifact_id FROM artifact_chunks c WHERE NOT EXISTS "
      "(SELECT 1 FROM model_versions v WHERE v.artifact_id = c.artifact_id) "
      "GROUP BY c.artifact_id HAVING max(c.stored_ms) < " AEGIS_SQLITE_NOW_MS " - ? LIMIT ?"));
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

StatusOr<size_t> SqliteMetadataStore::SweepOrphanedArtifacts(std::chrono::milliseconds min_age, size_t max_artifacts) {
  std::lock_guard lock(mu_);
  list_orphaned_artifacts_.BindInt(1, min_age.count());
  list_orphaned_artifacts_.BindInt(2, static_cast<int64_t>(std::min<size_t>(max_artifacts, INT64_MAX)));
  AEGIS_ASSIGN_OR_RETURN(
      const std::vector<std::string> orphans,
      Collect<std::string>(
          list_orphaned_artifacts_, [](const Statement& s) { return s.Text(0); }, "listing orphaned artifacts"));
  for (const std::string& id : orphans) {
    delete_artifact_.BindText(1, id);
    const Status status = SqliteStatus(db_, delete_artifact_.Step(), "deleting an orphaned artifact");
    delete_artifact_.Reset();
    AEGIS_RETURN_IF_ERROR(status);
  }
  return orphans.size();
}

Status PostgresMetadataStore::PutArtifactChunk(const std::string& artifact_id, int64_t seq,
                                               std::span<const uint8_t> data) {
  AEGIS_RETURN_IF_ERROR(CheckChunk(seq, data));
  return Execute("storing artifact chunk",
                 "INSERT INTO artifact_chunks (artifact_id, seq, data, stored_ms) VALUES ($1, $2, $3, " AEGIS_PG_NOW_MS
                 ") ON CONFLICT (artifact_id, seq) DO UPDATE SET data = EXCLUDED.data, stored_ms = EXCLUDED.stored_ms",
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

// One statement: the orphans are chosen and deleted in one snapshot, and two
// servers sweeping at once delete each row once.
StatusOr<size_t> PostgresMetadataStore::SweepOrphanedArtifacts(std::chrono::milliseconds min_age,
                                                               size_t max_artifacts) {
  return FetchOne<size_t>(
      "sweeping orphaned artifacts",
      "WITH orphans AS (SELECT c.artifact_id FROM artifact_chunks c WHERE NOT EXISTS "
      "(SELECT 1 FROM model_versions v WHERE v.artifact_id = c.artifact_id) "
      "GROUP BY c.artifact_id HAVING max(c.stored_ms) < " AEGIS_PG_NOW_MS
      " - $1 LIMIT $2), "
      "gone AS (DELETE FROM artifact_chunks WHERE artifact_id IN (SELECT artifact_id FROM orphans) "
      "RETURNING artifact_id) SELECT count(DISTINCT artifact_id) FROM gone",
      PgParams().Int(min_age.count()).Int(static_cast<int64_t>(std::min<size_t>(max_artifacts, INT64_MAX))),
      [](const PgResult& r, int row) { return static_cast<size_t>(r.Int(row, 0)); },
      Status::Internal("no count from the sweep"));
}

}  // namespace aegis::store::internal
