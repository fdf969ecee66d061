// SqliteMetadataStore: the incidents, incident_actions and suspensions tables.
#include "sqlite_metadata_store.h"

namespace aegis::store::internal {
namespace {

constexpr const char* kIncidentColumns =
    "id, kind, severity, principal, model, version, source, first_seen, last_seen, count, state, evidence, note";

IncidentRecord ReadIncident(const Statement& s) {
  IncidentRecord r;
  r.id = s.Text(0);
  r.kind = s.Text(1);
  r.severity = s.Text(2);
  r.principal = s.Text(3);
  r.model = s.Text(4);
  r.version = s.Text(5);
  r.source = s.Text(6);
  r.first_seen = s.Text(7);
  r.last_seen = s.Text(8);
  r.count = s.Int(9);
  r.state = s.Text(10);
  r.evidence = s.Text(11);
  r.note = s.Text(12);
  return r;
}

IncidentActionRecord ReadAction(const Statement& s) { return {s.Text(0), s.Text(1), s.Text(2)}; }

SuspensionRecord ReadSuspension(const Statement& s) { return {s.Text(0), s.Text(1), s.Text(2), s.Text(3)}; }

Status CheckEvidence(const IncidentRecord& r) {
  if (r.evidence.size() > kMaxIncidentEvidence) {
    return Status::InvalidArgument("incident evidence is over " + std::to_string(kMaxIncidentEvidence) + " bytes");
  }
  return Status::Ok();
}

std::string IncidentNotFound(const std::string& id) { return "no incident with id '" + id + "'"; }

}  // namespace

Status SqliteMetadataStore::PrepareIncidentStatements() {
  const std::string select = std::string("SELECT ") + kIncidentColumns + " FROM incidents";
  AEGIS_RETURN_IF_ERROR(insert_incident_.Prepare(db_, (std::string("INSERT INTO incidents (") + kIncidentColumns +
                                                       ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
                                                          .c_str()));
  AEGIS_RETURN_IF_ERROR(update_incident_.Prepare(
      db_,
      "UPDATE incidents SET severity = ?, last_seen = ?, count = ?, state = ?, evidence = ?, note = ? WHERE id = ?"));
  AEGIS_RETURN_IF_ERROR(get_incident_.Prepare(db_, (select + " WHERE id = ?").c_str()));
  AEGIS_RETURN_IF_ERROR(list_incidents_.Prepare(db_, (select + " ORDER BY rowid DESC LIMIT ?").c_str()));
  AEGIS_RETURN_IF_ERROR(
      list_incidents_in_state_.Prepare(db_, (select + " WHERE state = ? ORDER BY rowid DESC LIMIT ?").c_str()));
  AEGIS_RETURN_IF_ERROR(find_incident_.Prepare(
      db_, (select + " WHERE kind = ? AND principal = ? AND model = ? AND state != 'resolved' ORDER BY rowid DESC "
                     "LIMIT 1")
               .c_str()));
  AEGIS_RETURN_IF_ERROR(count_actions_.Prepare(db_, "SELECT count(*) FROM incident_actions WHERE incident_id = ?"));
  AEGIS_RETURN_IF_ERROR(insert_action_.Prepare(
      db_, "INSERT INTO incident_actions (incident_id, seq, action, at, outcome) VALUES (?, ?, ?, ?, ?)"));
  AEGIS_RETURN_IF_ERROR(list_actions_.Prepare(
      db_, "SELECT action, at, outcome FROM incident_actions WHERE incident_id = ? ORDER BY seq"));
  AEGIS_RETURN_IF_ERROR(insert_suspension_.Prepare(
      db_, "INSERT INTO suspensions (principal, reason, created_at, created_by) VALUES (?, ?, ?, ?)"));
  AEGIS_RETURN_IF_ERROR(delete_suspension_.Prepare(db_, "DELETE FROM suspensions WHERE principal = ?"));
  return list_suspensions_.Prepare(
      db_, "SELECT principal, reason, created_at, created_by FROM suspensions ORDER BY principal");
}

Status SqliteMetadataStore::InsertIncident(const IncidentRecord& r) {
  AEGIS_RETURN_IF_ERROR(CheckEvidence(r));
  std::lock_guard lock(mu_);
  Statement& s = insert_incident_;
  s.BindText(1, r.id);
  s.BindText(2, r.kind);
  s.BindText(3, r.severity);
  s.BindText(4, r.principal);
  s.BindText(5, r.model);
  s.BindText(6, r.version);
  s.BindText(7, r.source);
  s.BindText(8, r.first_seen);
  s.BindText(9, r.last_seen);
  s.BindInt(10, r.count);
  s.BindText(11, r.state);
  s.BindText(12, r.evidence);
  s.BindText(13, r.note);
  Status status = SqliteStatus(db_, s.Step(), "inserting incident");
  s.Reset();
  if (status.code() == StatusCode::kAlreadyExists) return Status::AlreadyExists("incident " + r.id + " already exists");
  return status;
}

Status SqliteMetadataStore::UpdateIncident(const IncidentRecord& r) {
  AEGIS_RETURN_IF_ERROR(CheckEvidence(r));
  std::lock_guard lock(mu_);
  Statement& s = update_incident_;
  s.BindText(1, r.severity);
  s.BindText(2, r.last_seen);
  s.BindInt(3, r.count);
  s.BindText(4, r.state);
  s.BindText(5, r.evidence);
  s.BindText(6, r.note);
  s.BindText(7, r.id);
  return ExecuteOne(s, "updating incident", IncidentNotFound(r.id));
}

Status SqliteMetadataStore::AppendIncidentAction(const std::string& id, const IncidentActionRecord& action) {
  std::lock_guard lock(mu_);
  count_actions_.BindText(1, id);
  auto count = FetchOne<int64_t>(
      count_actions_, [](const Statement& s) { return s.Int(0); }, Status::Internal("no count"),
      "counting incident actions");
  AEGIS_RETURN_IF_ERROR(count.status());
  if (*count >= static_cast<int64_t>(kMaxIncidentActions)) {
    return Status::TooLarge("incident " + id + " already records " + std::to_string(kMaxIncidentActions) + " actions");
  }
  Statement& s = insert_action_;
  s.BindText(1, id);
  s.BindInt(2, *count + 1);
  s.BindText(3, action.action);
  s.BindText(4, action.at);
  s.BindText(5, action.outcome);
  Status status = SqliteStatus(db_, s.Step(), "recording incident action");
  s.Reset();
  if (status.detail() == ErrorDetail::kForeignKeyViolation) return Status::NotFound(IncidentNotFound(id));
  return status;
}

Status SqliteMetadataStore::ReadIncidentActions(IncidentRecord& incident) {
  list_actions_.BindText(1, incident.id);
  auto actions = Collect<IncidentActionRecord>(list_actions_, ReadAction, "reading incident actions");
  AEGIS_RETURN_IF_ERROR(actions.status());
  incident.actions = std::move(actions).value();
  return Status::Ok();
}

StatusOr<IncidentRecord> SqliteMetadataStore::GetIncident(const std::string& id) {
  std::lock_guard lock(mu_);
  get_incident_.BindText(1, id);
  auto found =
      FetchOne<IncidentRecord>(get_incident_, ReadIncident, Status::NotFound(IncidentNotFound(id)), "reading incident");
  if (found.ok()) AEGIS_RETURN_IF_ERROR(ReadIncidentActions(*found));
  return found;
}

StatusOr<std::vector<IncidentRecord>> SqliteMetadataStore::ListIncidents(const std::optional<std::string>& state,
                                                                         size_t limit) {
  std::lock_guard lock(mu_);
  Statement& s = state ? list_incidents_in_state_ : list_incidents_;
  int index = 1;
  if (state) s.BindText(index++, *state);
  s.BindInt(index, static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
  auto listed = Collect<IncidentRecord>(s, ReadIncident, "listing incidents");
  AEGIS_RETURN_IF_ERROR(listed.status());
  for (auto& incident : *listed) AEGIS_RETURN_IF_ERROR(ReadIncidentActions(incident));
  return listed;
}

StatusOr<IncidentRecord> SqliteMetadataStore::FindUnresolvedIncident(const std::string& kind,
                                                                     const std::string& principal,
                                                                     const std::string& model) {
  std::lock_guard lock(mu_);
  find_incident_.BindText(1, kind);
  find_incident_.BindText(2, principal);
  find_incident_.BindText(3, model);
  auto found = FetchOne<IncidentRecord>(find_incident_, ReadIncident, Status::NotFound("no unresolved incident"),
                                        "finding incident");
  if (found.ok()) AEGIS_RETURN_IF_ERROR(ReadIncidentActions(*found));
  return found;
}

Status SqliteMetadataStore::InsertSuspension(const SuspensionRecord& r) {
  std::lock_guard lock(mu_);
  Statement& s = insert_suspension_;
  s.BindText(1, r.principal);
  s.BindText(2, r.reason);
  s.BindText(3, r.created_at);
  s.BindText(4, r.created_by);
  Status status = SqliteStatus(db_, s.Step(), "inserting suspension");
  s.Reset();
  if (status.code() == StatusCode::kAlreadyExists) {
    return Status::AlreadyExists("principal '" + r.principal + "' is already suspended");
  }
  return status;
}

Status SqliteMetadataStore::DeleteSuspension(const std::string& principal) {
  std::lock_guard lock(mu_);
  delete_suspension_.BindText(1, principal);
  return ExecuteOne(delete_suspension_, "deleting suspension", "principal '" + principal + "' is not suspended");
}

StatusOr<std::vector<SuspensionRecord>> SqliteMetadataStore::ListSuspensions() {
  std::lock_guard lock(mu_);
  return Collect<SuspensionRecord>(list_suspensions_, ReadSuspension, "listing suspensions");
}

}  // namespace aegis::store::internal
