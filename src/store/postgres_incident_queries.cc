// PostgresMetadataStore: the incidents, incident_actions, suspensions and
// baselines tables.
#include <algorithm>
#include <cstdint>

#include "postgres_metadata_store.h"

namespace aegis::store::internal {
namespace {

constexpr const char* kIncidentColumns =
    "id, kind, severity, principal, model, version, source, first_seen, last_seen, count, state, evidence, note";
constexpr const char* kBaselineColumns = "name, version, data, rows, created_at, created_by";

IncidentRecord ReadIncident(const PgResult& r, int row) {
  IncidentRecord i;
  i.id = r.Text(row, 0);
  i.kind = r.Text(row, 1);
  i.severity = r.Text(row, 2);
  i.principal = r.Text(row, 3);
  i.model = r.Text(row, 4);
  i.version = r.Text(row, 5);
  i.source = r.Text(row, 6);
  i.first_seen = r.Text(row, 7);
  i.last_seen = r.Text(row, 8);
  i.count = r.Int(row, 9);
  i.state = r.Text(row, 10);
  i.evidence = r.Text(row, 11);
  i.note = r.Text(row, 12);
  return i;
}

SuspensionRecord ReadSuspension(const PgResult& r, int row) {
  return {r.Text(row, 0), r.Text(row, 1), r.Text(row, 2), r.Text(row, 3)};
}

BaselineRecord ReadBaseline(const PgResult& r, int row) {
  return {r.Text(row, 0), r.Text(row, 1), r.Bytes(row, 2), r.Int(row, 3), r.Text(row, 4), r.Text(row, 5)};
}

Status CheckEvidence(const IncidentRecord& r) {
  if (r.evidence.size() > kMaxIncidentEvidence) {
    return Status::InvalidArgument("incident evidence is over " + std::to_string(kMaxIncidentEvidence) + " bytes");
  }
  return Status::Ok();
}

std::string IncidentNotFound(const std::string& id) { return "no incident with id '" + id + "'"; }

std::string SelectIncidents(const char* rest) { return std::string("SELECT ") + kIncidentColumns + " " + rest; }

}  // namespace

Status PostgresMetadataStore::InsertIncident(const IncidentRecord& r) {
  AEGIS_RETURN_IF_ERROR(CheckEvidence(r));
  PgParams p;
  p.Text(r.id).Text(r.kind).Text(r.severity).Text(r.principal).Text(r.model).Text(r.version).Text(r.source);
  p.Text(r.first_seen).Text(r.last_seen).Int(r.count).Text(r.state).Text(r.evidence).Text(r.note);
  Status status = Execute("inserting incident",
                          (std::string("INSERT INTO incidents (") + kIncidentColumns +
                           ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)")
                              .c_str(),
                          p);
  if (status.code() == StatusCode::kAlreadyExists) return Status::AlreadyExists("incident " + r.id + " already exists");
  return status;
}

Status PostgresMetadataStore::UpdateIncident(const IncidentRecord& r) {
  AEGIS_RETURN_IF_ERROR(CheckEvidence(r));
  PgParams p;
  p.Text(r.severity).Text(r.last_seen).Int(r.count).Text(r.state).Text(r.evidence).Text(r.note).Text(r.id);
  return ExecuteOne("updating incident",
                    "UPDATE incidents SET severity = $1, last_seen = $2, count = $3, state = $4, evidence = $5, "
                    "note = $6 WHERE id = $7",
                    p, IncidentNotFound(r.id));
}

Status PostgresMetadataStore::AppendIncidentAction(const std::string& id, const IncidentActionRecord& action) {
  // Counting and inserting in one statement: another replica appending at the
  // same moment either sees this row or clashes on (incident_id, seq), and the
  // clash is retried with the new count.
  const PgParams p = PgParams()
                         .Text(id)
                         .Text(action.action)
                         .Text(action.at)
                         .Text(action.outcome)
                         .Int(static_cast<int64_t>(kMaxIncidentActions));
  for (int attempt = 0;; ++attempt) {
    MutexLock lock(mu_);
    auto inserted = Run("recording incident action",
                        "INSERT INTO incident_actions (incident_id, seq, action, at, outcome) "
                        "SELECT $1::text, count(*) + 1, $2, $3, $4 FROM incident_actions WHERE incident_id = $1 "
                        "HAVING count(*) < $5",
                        p);
    if (inserted.ok()) {
      if (inserted->affected() == 1) return Status::Ok();
      return Status::TooLarge("incident " + id + " already records " + std::to_string(kMaxIncidentActions) +
                              " actions");
    }
    if (inserted.status().detail() == ErrorDetail::kForeignKeyViolation) {
      return Status::NotFound(IncidentNotFound(id));
    }
    if (inserted.status().detail() != ErrorDetail::kPrimaryKeyViolation || attempt == 3) return inserted.status();
  }
}

Status PostgresMetadataStore::ReadIncidentActions(IncidentRecord& incident) {
  AEGIS_ASSIGN_OR_RETURN(PgResult result,
                         Run("reading incident actions",
                             "SELECT action, at, outcome FROM incident_actions WHERE incident_id = $1 ORDER BY seq",
                             PgParams().Text(incident.id)));
  incident.actions.clear();
  for (int row = 0; row < result.rows(); ++row) {
    incident.actions.push_back({result.Text(row, 0), result.Text(row, 1), result.Text(row, 2)});
  }
  return Status::Ok();
}

StatusOr<IncidentRecord> PostgresMetadataStore::GetIncident(const std::string& id) {
  MutexLock lock(mu_);
  AEGIS_ASSIGN_OR_RETURN(
      PgResult result,
      Run("reading incident", SelectIncidents("FROM incidents WHERE id = $1").c_str(), PgParams().Text(id)));
  if (result.rows() == 0) return Status::NotFound(IncidentNotFound(id));
  IncidentRecord incident = ReadIncident(result, 0);
  AEGIS_RETURN_IF_ERROR(ReadIncidentActions(incident));
  return incident;
}

StatusOr<std::vector<IncidentRecord>> PostgresMetadataStore::ListIncidents(const std::optional<std::string>& state,
                                                                           size_t limit) {
  const auto bounded = static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX));
  MutexLock lock(mu_);
  auto listed =
      state ? Run("listing incidents",
                  SelectIncidents("FROM incidents WHERE state = $1 ORDER BY row_order DESC LIMIT $2").c_str(),
                  PgParams().Text(*state).Int(bounded))
            : Run("listing incidents", SelectIncidents("FROM incidents ORDER BY row_order DESC LIMIT $1").c_str(),
                  PgParams().Int(bounded));
  AEGIS_RETURN_IF_ERROR(listed.status());
  std::vector<IncidentRecord> out;
  for (int row = 0; row < listed->rows(); ++row) {
    out.push_back(ReadIncident(*listed, row));
    AEGIS_RETURN_IF_ERROR(ReadIncidentActions(out.back()));
  }
  return out;
}

StatusOr<IncidentRecord> PostgresMetadataStore::FindUnresolvedIncident(const std::string& kind,
                                                                       const std::string& principal,
                                                                       const std::string& model) {
  MutexLock lock(mu_);
  AEGIS_ASSIGN_OR_RETURN(PgResult result,
                         Run("finding incident",
                             SelectIncidents("FROM incidents WHERE kind = $1 AND principal = $2 AND model = $3 AND "
                                             "state != 'resolved' ORDER BY row_order DESC LIMIT 1")
                                 .c_str(),
                             PgParams().Text(kind).Text(principal).Text(model)));
  if (result.rows() == 0) return Status::NotFound("no unresolved incident");
  IncidentRecord incident = ReadIncident(result, 0);
  AEGIS_RETURN_IF_ERROR(ReadIncidentActions(incident));
  return incident;
}

Status PostgresMetadataStore::InsertSuspension(const SuspensionRecord& r) {
  Status status = Execute("inserting suspension",
                          "INSERT INTO suspensions (principal, reason, created_at, created_by) VALUES ($1, $2, $3, $4)",
                          PgParams().Text(r.principal).Text(r.reason).Text(r.created_at).Text(r.created_by));
  if (status.code() == StatusCode::kAlreadyExists) {
    return Status::AlreadyExists("principal '" + r.principal + "' is already suspended");
  }
  return status;
}

Status PostgresMetadataStore::DeleteSuspension(const std::string& principal) {
  return ExecuteOne("deleting suspension", "DELETE FROM suspensions WHERE principal = $1", PgParams().Text(principal),
                    "principal '" + principal + "' is not suspended");
}

StatusOr<std::vector<SuspensionRecord>> PostgresMetadataStore::ListSuspensions() {
  return Collect<SuspensionRecord>(
      "listing suspensions",
      "SELECT principal, reason, created_at, created_by FROM suspensions ORDER BY principal COLLATE \"C\"", PgParams(),
      ReadSuspension);
}

Status PostgresMetadataStore::PutBaseline(const BaselineRecord& r) {
  if (r.data.size() > kMaxBaselineBytes) {
    return Status::TooLarge("a baseline is larger than " + std::to_string(kMaxBaselineBytes) + " bytes");
  }
  return Execute(
      "storing baseline",
      "INSERT INTO baselines (name, version, data, rows, created_at, created_by) "
      "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name, version) DO UPDATE SET data = EXCLUDED.data, "
      "rows = EXCLUDED.rows, created_at = EXCLUDED.created_at, created_by = EXCLUDED.created_by",
      PgParams().Text(r.name).Text(r.version).Bytes(r.data).Int(r.rows).Text(r.created_at).Text(r.created_by));
}

StatusOr<BaselineRecord> PostgresMetadataStore::GetBaseline(const std::string& name, const std::string& version) {
  return FetchOne<BaselineRecord>(
      "reading baseline",
      (std::string("SELECT ") + kBaselineColumns + " FROM baselines WHERE name = $1 AND version = $2").c_str(),
      PgParams().Text(name).Text(version), ReadBaseline,
      Status::NotFound("model '" + name + "' version '" + version + "' has no baseline"));
}

StatusOr<std::vector<BaselineRecord>> PostgresMetadataStore::ListBaselines() {
  return Collect<BaselineRecord>(
      "listing baselines",
      (std::string("SELECT ") + kBaselineColumns + " FROM baselines ORDER BY name COLLATE \"C\", version COLLATE \"C\"")
          .c_str(),
      PgParams(), ReadBaseline);
}

Status PostgresMetadataStore::DeleteBaseline(const std::string& name, const std::string& version) {
  return Execute("deleting baseline", "DELETE FROM baselines WHERE name = $1 AND version = $2",
                 PgParams().Text(name).Text(version));
}

}  // namespace aegis::store::internal
