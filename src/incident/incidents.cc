#include "aegis/incident/incidents.h"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "aegis/common/utf8.h"
#include "aegis/crypto/hash.h"
#include "aegis/crypto/random.h"

namespace aegis::incident {
namespace {

constexpr size_t kMaxEvidenceKey = 64;
constexpr std::string_view kNotAvailable = "not available in this build";

// At most `max` bytes of `s`, cut on a UTF-8 boundary, control characters and
// ill-formed bytes replaced by '?'. Evidence is data; a reader renders it as text.
std::string Clean(std::string_view s, size_t max) {
  std::string out;
  for (size_t i = 0; i < s.size() && out.size() < max;) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = Utf8SequenceLength(s, i);
    if (n == 0 || c < 0x20 || c == 0x7f) {
      out += '?';
      i += 1;
      continue;
    }
    if (out.size() + n > max) break;
    out.append(s.substr(i, n));
    i += n;
  }
  return out;
}

std::string EvidenceJson(const std::vector<std::pair<std::string, std::string>>& evidence) {
  std::vector<std::pair<std::string, std::string>> entries;
  for (const auto& [key, value] : evidence) {
    if (entries.size() == kMaxEvidenceEntries) break;
    entries.emplace_back(Clean(key, kMaxEvidenceKey), Clean(value, kMaxEvidenceValue));
  }
  while (true) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [key, value] : entries) j[key] = value;
    std::string text = j.dump();
    if (text.size() <= store::kMaxIncidentEvidence || entries.empty()) return text;
    entries.pop_back();
  }
}

std::string Key(IncidentKind kind, std::string_view principal, std::string_view model) {
  std::string key(IncidentKindName(kind));
  key += '\0';
  key += principal;
  key += '\0';
  key += model;
  return key;
}

std::string Describe(const store::IncidentRecord& r) {
  std::string out = r.kind + " (" + r.severity + ")";
  if (!r.principal.empty()) out += " principal " + r.principal;
  if (!r.model.empty()) out += " model " + r.model + (r.version.empty() ? "" : "/" + r.version);
  if (!r.source.empty()) out += " source " + r.source;
  return out;
}

}  // namespace

Incidents::Incidents(store::MetadataStore* store, audit::AuditLog* audit, const Clock& clock, IncidentsOptions options)
    : store_(store), audit_(audit), clock_(clock), options_(std::move(options)) {}

StatusOr<std::unique_ptr<Incidents>> Incidents::Create(store::MetadataStore* store, audit::AuditLog* audit,
                                                       const Clock& clock, IncidentsOptions options) {
  std::unique_ptr<Incidents> incidents(new Incidents(store, audit, clock, std::move(options)));
  AEGIS_RETURN_IF_ERROR(incidents->Load());
  incidents->thread_ = std::thread([raw = incidents.get()] { raw->Run(); });
  return incidents;
}

Incidents::~Incidents() {
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status Incidents::Load() {
  bool complete = false;
  return ReadUnresolved(&complete).status();
}

StatusOr<std::vector<store::IncidentRecord>> Incidents::ReadUnresolved(bool* complete) {
  std::lock_guard lock(mu_);
  std::unordered_map<std::string, Cached> unresolved;
  OpenCounts open{};
  std::vector<store::IncidentRecord> all;
  *complete = true;
  for (const IncidentState state : {IncidentState::kOpen, IncidentState::kAcknowledged}) {
    const size_t room = options_.max_cached - std::min(options_.max_cached, unresolved.size());
    // One more than fits tells whether some were left out.
    auto listed = store_->ListIncidents(std::string(IncidentStateName(state)), room + 1);
    AEGIS_RETURN_IF_ERROR(listed.status().WithContext("loading incidents"));
    if (listed->size() > room) *complete = false;
    for (auto& r : *listed) {
      const auto kind = ParseIncidentKind(r.kind);
      const auto severity = ParseSeverity(r.severity);
      if (!kind || !severity) continue;  // the schema's CHECKs make this unreachable
      if (state == IncidentState::kOpen) open[static_cast<size_t>(*kind)][static_cast<size_t>(*severity)] += 1;
      if (unresolved.size() < options_.max_cached) {
        unresolved.try_emplace(Key(*kind, r.principal, r.model), Cached{r.id, state, *severity});
      }
      all.push_back(std::move(r));
    }
  }
  // Another server may have resolved a cached incident: a raise here must not
  // merge into it.
  unresolved_ = std::move(unresolved);
  open_ = open;
  cache_complete_ = *complete;
  return all;
}

void Incidents::Count(IncidentKind kind, Severity severity, int delta) {
  uint64_t& cell = open_[static_cast<size_t>(kind)][static_cast<size_t>(severity)];
  cell = delta < 0 ? cell - std::min<uint64_t>(cell, 1) : cell + 1;
}

void Incidents::Audit(audit::SystemAction action, const std::string& id, std::string detail,
                      const std::string& principal) {
  audit::AuditEvent event = audit::SystemEvent(clock_.Now(), action, "incident:" + id, std::move(detail));
  if (!principal.empty()) event.principal = principal;
  audit_->Append(std::move(event));
}

void TimingHistogram::Observe(double seconds) {
  seconds = std::max(0.0, seconds);
  size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  buckets[i] += 1;
  sum += seconds;
  count += 1;
}

std::string AlertJson(const store::IncidentRecord& r, bool resolved, const std::string& ends_at) {
  nlohmann::json labels = {{"alertname", r.kind}, {"incident", r.id}, {"service", "aegis"}};
  if (!r.principal.empty()) labels["principal"] = r.principal;
  if (!r.model.empty()) labels["model"] = r.model;
  if (!r.version.empty()) labels["version"] = r.version;
  // The labels that identify the incident name the alert: the same for its
  // firing, a re-alert when its severity rises, and its resolution.
  const crypto::Sha256Digest digest = crypto::Sha256(labels.dump());
  labels["severity"] = r.severity;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string fingerprint;
  for (size_t i = 0; i < 8; ++i) {
    fingerprint += kHex[digest[i] >> 4];
    fingerprint += kHex[digest[i] & 0xf];
  }
  nlohmann::json alert = {
      {"status", resolved ? "resolved" : "firing"},
      {"labels", std::move(labels)},
      {"annotations",
       {{"summary", "Aegis incident " + r.id + ": " + Describe(r)},
        {"description", resolved ? "resolved: " + r.note : "evidence " + r.evidence}}},
      {"startsAt", r.first_seen},
      {"endsAt", resolved ? ends_at : std::string("0001-01-01T00:00:00Z")},
      {"generatorURL", ""},
      {"fingerprint", fingerprint},
  };
  // Evidence and notes are cleaned of control characters when stored; replace
  // anything ill-formed rather than throw on it.
  return alert.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

StatusOr<store::IncidentRecord> Incidents::Raise(const IncidentSignal& signal) {
  const auto detected = signal.detected_at.value_or(clock_.Now());
  std::optional<store::IncidentRecord> opened, escalated;
  StatusOr<store::IncidentRecord> result = Status::Internal("not raised");
  {
    std::lock_guard lock(mu_);
    const std::string key = Key(signal.kind, signal.principal, signal.model);
    std::optional<std::string> existing;
    if (const auto it = unresolved_.find(key); it != unresolved_.end()) {
      existing = it->second.id;
    } else if (!cache_complete_) {
      auto found =
          store_->FindUnresolvedIncident(std::string(IncidentKindName(signal.kind)), signal.principal, signal.model);
      if (found.ok()) existing = found->id;
      if (!found.ok() && found.status().code() != StatusCode::kNotFound) return found.status();
    }
    if (existing) {
      auto record = store_->GetIncident(*existing);
      if (!record.ok()) return record.status();
      const std::string before = record->severity;
      result = Bump(std::move(*record), signal);
      if (result.ok() && result->severity != before) escalated = *result;
    } else {
      result = OpenNew(signal, key);
      if (result.ok()) opened = *result;
    }
  }
  // Outside the lock: a responder may take its own locks and write the store.
  if (escalated) AlertEscalation(*escalated);
  if (opened) {
    const auto contained = Respond(*opened, signal.administrator);
    std::lock_guard lock(timing_mu_);
    timings_.detect.Observe(
        signal.evidence_since ? std::chrono::duration<double>(detected - *signal.evidence_since).count() : 0.0);
    if (contained) timings_.contain.Observe(std::chrono::duration<double>(*contained - detected).count());
  }
  return result;
}

StatusOr<store::IncidentRecord> Incidents::OpenNew(const IncidentSignal& signal, const std::string& key) {
  store::IncidentRecord r;
  AEGIS_ASSIGN_OR_RETURN(r.id, crypto::RandomHex(16));
  r.kind = std::string(IncidentKindName(signal.kind));
  r.severity = std::string(SeverityName(signal.severity));
  r.principal = Clean(signal.principal, 256);
  r.model = Clean(signal.model, 256);
  r.version = Clean(signal.version, 128);
  r.source = Clean(signal.source, 64);
  r.first_seen = r.last_seen = FormatRfc3339(clock_.Now());
  r.evidence = EvidenceJson(signal.evidence);
  AEGIS_RETURN_IF_ERROR(store_->InsertIncident(r));
  Count(signal.kind, signal.severity, +1);
  if (unresolved_.size() < options_.max_cached) {
    unresolved_[key] = Cached{r.id, IncidentState::kOpen, signal.severity};
  } else {
    cache_complete_ = false;
  }
  Audit(audit::SystemAction::kIncidentOpened, r.id, Describe(r) + "; evidence " + r.evidence);
  spdlog::warn("incident {} opened: {}", r.id, Describe(r));
  return r;
}

StatusOr<store::IncidentRecord> Incidents::Bump(store::IncidentRecord r, const IncidentSignal& signal) {
  const auto old_severity = ParseSeverity(r.severity).value_or(Severity::kLow);
  const Severity severity = std::max(old_severity, signal.severity);
  r.count += 1;
  r.last_seen = FormatRfc3339(clock_.Now());
  r.severity = std::string(SeverityName(severity));
  AEGIS_RETURN_IF_ERROR(store_->UpdateIncident(r));
  const auto kind = ParseIncidentKind(r.kind).value_or(signal.kind);
  if (r.state == "open" && severity != old_severity) {
    Count(kind, old_severity, -1);
    Count(kind, severity, +1);
  }
  if (auto it = unresolved_.find(Key(kind, r.principal, r.model)); it != unresolved_.end()) {
    it->second.severity = severity;
  }
  Audit(audit::SystemAction::kIncidentUpdated, r.id,
        "raised again (" + std::to_string(r.count) + " times): " + Describe(r));
  return r;
}

std::optional<std::chrono::system_clock::time_point> Incidents::Respond(const store::IncidentRecord& r,
                                                                        bool administrator) {
  static constexpr std::string_view kAdministrator =
      "an administrator's credential is never held automatically: an operator decides";
  const auto kind = ParseIncidentKind(r.kind);
  if (!kind) return std::nullopt;
  const Responders& act = options_.responders;
  // A sync must not see a hold before its action is recorded.
  std::lock_guard contain(contain_mu_);
  bool contains = false, contained = true;
  for (const ResponseAction action : options_.playbooks.For(*kind)) {
    std::string outcome;
    Status done = Status::Ok();
    switch (action) {
      case ResponseAction::kSuspend:
        if (!act.suspend) {
          done = Status::Unavailable(std::string(kNotAvailable));
        } else if (r.principal.empty()) {
          done = Status::InvalidArgument("no principal to suspend");
        } else if (administrator) {
          done = Status::PermissionDenied(std::string(kAdministrator));
        } else {
          done = act.suspend(r.principal, "incident " + r.id + " (" + r.kind + ")");
          outcome = "suspended " + r.principal;
        }
        break;
      case ResponseAction::kThrottle:
        if (!act.throttle) {
          done = Status::Unavailable(std::string(kNotAvailable));
        } else if (r.principal.empty()) {
          done = Status::InvalidArgument("no principal to throttle");
        } else if (administrator) {
          done = Status::PermissionDenied(std::string(kAdministrator));
        } else {
          done = Hold({std::string(ResponseActionName(action)), r.id}, {r.principal, "", ""});
          outcome = "throttled " + r.principal + " to " + act.throttle_rate + " while the incident is unresolved";
        }
        break;
      case ResponseAction::kWithdraw:
        if (!act.withdraw) {
          done = Status::Unavailable(std::string(kNotAvailable));
        } else if (r.model.empty() || r.version.empty()) {
          done = Status::InvalidArgument("no model version to withdraw");
        } else {
          done = Hold({std::string(ResponseActionName(action)), r.id}, {"", r.model, r.version});
          outcome = "withdrew " + r.model + "/" + r.version + " while the incident is unresolved";
        }
        break;
      case ResponseAction::kAlert:
        if (!act.alert) {
          done = Status::Unavailable("no alert receiver is configured ([guard.alerts])");
        } else {
          done = act.alert(AlertJson(r, false, ""));
          outcome = "alert queued for the receiver";
        }
        break;
    }
    if (action != ResponseAction::kAlert) {
      contains = true;
      contained = contained && done.ok();
    }
    RecordResponse(r.id, action, done, outcome);
  }
  if (contains && contained) return clock_.Now();
  return std::nullopt;
}

void Incidents::AlertEscalation(const store::IncidentRecord& r) {
  const auto kind = ParseIncidentKind(r.kind);
  if (!kind || !options_.responders.alert) return;
  const auto& actions = options_.playbooks.For(*kind);
  if (std::find(actions.begin(), actions.end(), ResponseAction::kAlert) == actions.end()) return;
  const Status queued = options_.responders.alert(AlertJson(r, false, ""));
  RecordResponse(r.id, ResponseAction::kAlert, queued, "alert queued: severity rose to " + r.severity);
}

void Incidents::RecordResponse(const std::string& id, ResponseAction action, const Status& done, std::string outcome) {
  if (!done.ok()) outcome = "not done: " + done.message();
  const std::string name = std::string(ResponseActionName(action)) + (done.ok() ? "" : "_failed");
  const Status recorded = store_->AppendIncidentAction(id, {name, FormatRfc3339(clock_.Now()), outcome});
  if (!recorded.ok()) spdlog::error("incident {}: action {} not recorded: {}", id, name, recorded.message());
  Audit(audit::SystemAction::kIncidentResponse, id, name + ": " + outcome);
}

void Incidents::Release(const store::IncidentRecord& r) {
  {
    std::lock_guard contain(contain_mu_);
    for (const ResponseAction action : {ResponseAction::kThrottle, ResponseAction::kWithdraw}) {
      const HeldKey key{std::string(ResponseActionName(action)), r.id};
      LetGo(key);
      unheld_.erase(key);
    }
  }
  const Responders& act = options_.responders;
  const bool alerted = std::any_of(r.actions.begin(), r.actions.end(), [](const store::IncidentActionRecord& a) {
    return ParseResponseAction(a.action) == ResponseAction::kAlert;
  });
  if (alerted && act.alert) {
    const Status queued = act.alert(AlertJson(r, true, FormatRfc3339(clock_.Now())));
    if (!queued.ok()) spdlog::warn("incident {}: resolved alert not queued: {}", r.id, queued.message());
  }
}

Status Incidents::Hold(const HeldKey& key, const HeldTarget& target) {
  const Responders& act = options_.responders;
  Status done = Status::Unavailable(std::string(kNotAvailable));
  if (key.first == ResponseActionName(ResponseAction::kThrottle)) {
    if (act.throttle) done = act.throttle(target.principal, key.second);
  } else if (act.withdraw) {
    done = act.withdraw(target.model, target.version, key.second);
  }
  if (done.ok()) held_[key] = target;
  return done;
}

void Incidents::LetGo(const HeldKey& key) {
  const auto it = held_.find(key);
  if (it == held_.end()) return;
  const HeldTarget target = it->second;
  held_.erase(it);
  const Responders& act = options_.responders;
  if (key.first == ResponseActionName(ResponseAction::kThrottle)) {
    if (act.unthrottle) act.unthrottle(target.principal, key.second);
    Audit(audit::SystemAction::kIncidentResponse, key.second, "throttle lifted for " + target.principal);
  } else {
    if (act.reinstate) act.reinstate(target.model, target.version, key.second);
    Audit(audit::SystemAction::kIncidentResponse, key.second,
          "withdrawal of " + target.model + "/" + target.version + " lifted");
  }
}

void Incidents::SyncContainment(std::string_view when) {
  std::lock_guard contain(contain_mu_);
  bool complete = false;
  auto unresolved = ReadUnresolved(&complete);
  if (!unresolved.ok()) {
    spdlog::error("incidents: containment not synchronized {}: {}", when, unresolved.status().message());
    return;
  }
  // What the unresolved incidents record as held (the actions that took where
  // their playbook ran), among what this build can hold.
  const Responders& act = options_.responders;
  std::map<HeldKey, HeldTarget> wanted;
  for (const auto& r : *unresolved) {
    for (const auto& a : r.actions) {
      const auto action = ParseResponseAction(a.action);
      if (action == ResponseAction::kThrottle && act.throttle && !r.principal.empty()) {
        wanted.try_emplace({a.action, r.id}, HeldTarget{r.principal, "", ""});
      } else if (action == ResponseAction::kWithdraw && act.withdraw && !r.version.empty()) {
        wanted.try_emplace({a.action, r.id}, HeldTarget{"", r.model, r.version});
      }
    }
  }
  std::vector<HeldKey> released;
  for (const auto& [key, target] : held_) {
    if (!wanted.contains(key)) released.push_back(key);
  }
  for (const HeldKey& key : released) {
    if (!complete) {
      // Beyond what was read: let go only of what is known to be resolved.
      const auto r = store_->GetIncident(key.second);
      if (r.ok() ? r->state != IncidentStateName(IncidentState::kResolved)
                 : r.status().code() != StatusCode::kNotFound) {
        continue;
      }
    }
    LetGo(key);
  }
  if (complete) std::erase_if(unheld_, [&](const HeldKey& key) { return !wanted.contains(key); });
  for (const auto& [key, target] : wanted) {
    if (held_.contains(key)) continue;
    const Status done = Hold(key, target);
    // A version not served here yet is tried again on every sync; its failure
    // is audited once.
    if (done.ok()) unheld_.erase(key);
    if (done.ok() || unheld_.insert(key).second) {
      Audit(audit::SystemAction::kIncidentResponse, key.second,
            key.first + " re-applied " + std::string(when) + ": " +
                (done.ok() ? std::string("done") : "not done: " + done.message()));
    }
  }
}

StatusOr<store::IncidentRecord> Incidents::Transition(const std::string& id, IncidentState to, const std::string& note,
                                                      const std::string& by) {
  if (!IsIncidentId(id)) return Status::InvalidArgument("an incident id is 32 lowercase hex characters");
  std::lock_guard lock(mu_);
  AEGIS_ASSIGN_OR_RETURN(store::IncidentRecord r, store_->GetIncident(id));
  const auto from = ParseIncidentState(r.state).value_or(IncidentState::kResolved);
  if (from == IncidentState::kResolved) return Status::InvalidArgument("incident " + id + " is already resolved");
  if (from == to) return Status::InvalidArgument("incident " + id + " is already " + r.state);
  r.state = std::string(IncidentStateName(to));
  if (to == IncidentState::kResolved) r.note = note;
  AEGIS_RETURN_IF_ERROR(store_->UpdateIncident(r));
  const auto kind = ParseIncidentKind(r.kind);
  const auto severity = ParseSeverity(r.severity);
  if (kind && severity) {
    if (from == IncidentState::kOpen) Count(*kind, *severity, -1);
    const std::string key = Key(*kind, r.principal, r.model);
    if (to == IncidentState::kResolved) {
      unresolved_.erase(key);
    } else if (auto it = unresolved_.find(key); it != unresolved_.end()) {
      it->second.state = to;
    }
  }
  const std::string action = to == IncidentState::kResolved ? "resolve" : "acknowledge";
  const std::string at = FormatRfc3339(clock_.Now());
  const Status recorded = store_->AppendIncidentAction(id, {action, at, "by " + by});
  if (!recorded.ok()) spdlog::error("incident {}: {} not recorded: {}", id, action, recorded.message());
  Audit(to == IncidentState::kResolved ? audit::SystemAction::kIncidentResolved
                                       : audit::SystemAction::kIncidentAcknowledged,
        id, to == IncidentState::kResolved ? "resolved: " + note : "acknowledged", by);
  return store_->GetIncident(id);
}

StatusOr<store::IncidentRecord> Incidents::Resolve(const std::string& id, const std::string& note,
                                                   const std::string& by) {
  AEGIS_RETURN_IF_ERROR(CheckNote(note));
  AEGIS_ASSIGN_OR_RETURN(store::IncidentRecord resolved, Transition(id, IncidentState::kResolved, note, by));
  // Outside mu_, as Respond: the responders take their own locks.
  Release(resolved);
  return resolved;
}

StatusOr<store::IncidentRecord> Incidents::Acknowledge(const std::string& id, const std::string& by) {
  return Transition(id, IncidentState::kAcknowledged, "", by);
}

StatusOr<store::IncidentRecord> Incidents::Get(const std::string& id) {
  if (!IsIncidentId(id)) return Status::InvalidArgument("an incident id is 32 lowercase hex characters");
  return store_->GetIncident(id);
}

StatusOr<std::vector<store::IncidentRecord>> Incidents::List(std::optional<IncidentState> state, size_t limit) const {
  std::optional<std::string> name;
  if (state) name = std::string(IncidentStateName(*state));
  return store_->ListIncidents(name, limit);
}

OpenCounts Incidents::CountOpen() const {
  std::lock_guard lock(mu_);
  return open_;
}

uint64_t Incidents::Dropped() const {
  std::lock_guard lock(queue_mu_);
  return dropped_;
}

ResponseTimings Incidents::Timings() const {
  std::lock_guard lock(timing_mu_);
  return timings_;
}

void Incidents::Post(IncidentSignal signal) {
  if (!signal.detected_at) signal.detected_at = clock_.Now();
  {
    std::lock_guard lock(queue_mu_);
    if (stopping_ || queue_.size() >= options_.queue_capacity) {
      ++dropped_;
      return;
    }
    queue_.push_back(std::move(signal));
  }
  queue_cv_.notify_one();
}

void Incidents::Drain() {
  std::unique_lock lock(queue_mu_);
  idle_cv_.wait(lock, [this] { return queue_.empty() && !busy_; });
}

void Incidents::Run() {
  std::unique_lock lock(queue_mu_);
  while (true) {
    queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) break;  // stopping, nothing left
    IncidentSignal signal = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    auto raised = Raise(signal);
    if (!raised.ok()) spdlog::error("incident not raised: {}", raised.status().message());
    lock.lock();
    busy_ = false;
    if (queue_.empty()) idle_cv_.notify_all();
  }
  idle_cv_.notify_all();
}

}  // namespace aegis::incident
