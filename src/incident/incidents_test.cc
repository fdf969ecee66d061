#include "aegis/incident/incidents.h"

#include <map>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "aegis/incident/suspensions.h"
#include "aegis/keys/key_provider.h"
#include "common/testing/scoped_temp_dir.h"
#include "common/testing/status_matchers.h"

namespace aegis::incident {
namespace {

using Json = nlohmann::json;

class IncidentsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& dir = tmp_.path();
    kek_ = std::move(keys::LocalKeyProvider::Create(dir / "keys", std::nullopt)).value();
    OpenStore();
    audit::AuditLogOptions o;
    o.dir = dir / "audit";
    o.signing_key_file = dir / "keys" / "audit-signing.key";
    o.kek = kek_.get();
    o.verify_interval = std::chrono::seconds(0);
    audit_ = std::move(audit::AuditLog::Open(o)).value();
  }
  void OpenStore() { store_ = std::move(store::MetadataStore::Open(tmp_.path() / "aegis.db")).value(); }

  std::unique_ptr<Incidents> Make(IncidentsOptions options = {}) {
    auto made = Incidents::Create(store_.get(), audit_.get(), clock_, std::move(options));
    EXPECT_OK(made);
    return std::move(made).value();
  }

  // The actions of the last `n` audit events.
  std::vector<std::string> RecentActions(size_t n) {
    std::vector<std::string> out;
    const std::vector<std::string> lines = audit_->Recent(n).value();
    for (const auto& line : lines) out.push_back(Json::parse(line)["action"]);
    return out;
  }

  static IncidentSignal BruteForce(const std::string& principal = "user:alice") {
    return {IncidentKind::kBruteForce, Severity::kHigh, principal, "", "", "192.0.2.7", {{"failures", "10"}}};
  }

  testing::ScopedTempDir tmp_;
  FakeClock clock_{std::chrono::system_clock::time_point(std::chrono::hours(24 * 365 * 56))};
  std::unique_ptr<keys::LocalKeyProvider> kek_;
  std::unique_ptr<store::MetadataStore> store_;
  std::unique_ptr<audit::AuditLog> audit_;
};

TEST_F(IncidentsTest, TheSameKeyWhileUnresolvedIsOneIncident) {
  auto incidents = Make();
  auto first = incidents->Raise(BruteForce());
  ASSERT_OK(first);
  EXPECT_TRUE(IsIncidentId(first->id));
  EXPECT_EQ(first->count, 1);
  EXPECT_EQ(first->state, "open");
  EXPECT_EQ(first->evidence, R"({"failures":"10"})");
  clock_.Advance(std::chrono::seconds(5));
  auto second = incidents->Raise(BruteForce());
  ASSERT_OK(second);
  EXPECT_EQ(second->id, first->id);
  EXPECT_EQ(second->count, 2);
  EXPECT_GT(second->last_seen, first->last_seen);
  EXPECT_EQ(second->first_seen, first->first_seen);

  auto other = incidents->Raise(BruteForce("user:bob"));
  ASSERT_OK(other);
  EXPECT_NE(other->id, first->id) << "another principal is another incident";
  EXPECT_EQ(incidents->CountOpen()[size_t(IncidentKind::kBruteForce)][size_t(Severity::kHigh)], 2u);

  // Acknowledged still merges; resolved does not.
  ASSERT_OK(incidents->Acknowledge(first->id, "user:admin"));
  EXPECT_EQ(incidents->CountOpen()[size_t(IncidentKind::kBruteForce)][size_t(Severity::kHigh)], 1u)
      << "acknowledged is not open";
  EXPECT_EQ(incidents->Raise(BruteForce())->id, first->id);
  ASSERT_OK(incidents->Resolve(first->id, "password reset", "user:admin"));
  auto fresh = incidents->Raise(BruteForce());
  ASSERT_OK(fresh);
  EXPECT_NE(fresh->id, first->id);
  EXPECT_EQ(incidents->List(std::nullopt, 100)->size(), 3u);
}

TEST_F(IncidentsTest, EveryRaiseAndStateChangeIsAuditedAndRecorded) {
  auto incidents = Make();
  auto opened = incidents->Raise(BruteForce());
  ASSERT_OK(opened);
  ASSERT_OK(incidents->Raise(BruteForce()));
  ASSERT_OK(incidents->Acknowledge(opened->id, "user:admin"));
  auto resolved = incidents->Resolve(opened->id, "<script>x</script> reset", "user:admin");
  ASSERT_OK(resolved);
  EXPECT_EQ(resolved->state, "resolved");
  EXPECT_EQ(resolved->note, "<script>x</script> reset") << "stored as data";
  ASSERT_OK(audit_->Flush());
  const auto actions = RecentActions(4);
  EXPECT_EQ(actions, (std::vector<std::string>{"incident.opened", "incident.updated", "incident.acknowledged",
                                               "incident.resolved"}));
  const std::vector<std::string> recent = audit_->Recent(1).value();
  auto last = Json::parse(recent.back());
  EXPECT_EQ(last["principal"], "user:admin");
  EXPECT_EQ(last["resource"], "incident:" + opened->id);
  // No default action for brute force; acknowledge and resolve, each with its time.
  ASSERT_EQ(resolved->actions.size(), 2u);
  EXPECT_EQ(resolved->actions[0].action, "acknowledge");
  EXPECT_EQ(resolved->actions[1].action, "resolve");
  EXPECT_FALSE(resolved->actions[1].at.empty());
}

TEST_F(IncidentsTest, BadIdsStatesAndNotesAreRefused) {
  auto incidents = Make();
  EXPECT_EQ(incidents->Get("nope").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(incidents->Get("../../etc").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(incidents->Get(std::string(32, 'A')).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(incidents->Get(std::string(32, 'a')).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(incidents->Acknowledge(std::string(32, 'a'), "u").status().code(), StatusCode::kNotFound);
  auto opened = incidents->Raise(BruteForce());
  ASSERT_OK(opened);
  EXPECT_EQ(incidents->Resolve(opened->id, "", "u").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(incidents->Resolve(opened->id, std::string(kMaxNoteBytes + 1, 'x'), "u").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(incidents->Resolve(opened->id, "bell\x07", "u").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(incidents->Resolve(opened->id, "bad \xff utf-8", "u").status().code(), StatusCode::kInvalidArgument);
  ASSERT_OK(incidents->Resolve(opened->id, "line one\nline two\tdone", "u"));
  EXPECT_EQ(incidents->Acknowledge(opened->id, "u").status().code(), StatusCode::kInvalidArgument)
      << "a resolved incident stays resolved";
  EXPECT_EQ(incidents->Resolve(opened->id, "again", "u").status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(ParseIncidentState("closed"));
  EXPECT_EQ(ParseIncidentState("acknowledged"), IncidentState::kAcknowledged);
}

TEST_F(IncidentsTest, EvidenceIsBoundedAndCleaned) {
  auto incidents = Make();
  IncidentSignal s = BruteForce();
  s.evidence.clear();
  for (int i = 0; i < 40; ++i) s.evidence.emplace_back("k" + std::to_string(i), std::string(5000, '"'));
  s.evidence.insert(s.evidence.begin(), {"ctl", "a\x01\nb"});
  auto opened = incidents->Raise(s);
  ASSERT_OK(opened);
  EXPECT_LE(opened->evidence.size(), store::kMaxIncidentEvidence);
  const Json j = Json::parse(opened->evidence);
  EXPECT_EQ(j["ctl"], "a??b");
  EXPECT_LE(j.size(), kMaxEvidenceEntries);
}

TEST_F(IncidentsTest, IncidentsAndCountsSurviveARestart) {
  std::string id;
  {
    auto incidents = Make();
    id = incidents->Raise(BruteForce())->id;
    ASSERT_OK(incidents->Raise({IncidentKind::kEngineCrash, Severity::kCritical, "", "mlp", "1", "", {}}));
  }
  store_.reset();
  OpenStore();
  auto incidents = Make();
  EXPECT_EQ(incidents->CountOpen()[size_t(IncidentKind::kBruteForce)][size_t(Severity::kHigh)], 1u);
  EXPECT_EQ(incidents->CountOpen()[size_t(IncidentKind::kEngineCrash)][size_t(Severity::kCritical)], 1u);
  auto again = incidents->Raise(BruteForce());
  ASSERT_OK(again);
  EXPECT_EQ(again->id, id) << "de-duplication continues after a restart";
  EXPECT_EQ(again->count, 2);
}

TEST_F(IncidentsTest, BeyondTheCacheTheStoreStillDeduplicates) {
  IncidentsOptions o;
  o.max_cached = 1;
  auto incidents = Make(o);
  auto a = incidents->Raise(BruteForce("user:a"));
  auto b = incidents->Raise(BruteForce("user:b"));
  ASSERT_OK(a);
  ASSERT_OK(b);
  EXPECT_EQ(incidents->Raise(BruteForce("user:b"))->id, b->id);
  EXPECT_EQ(incidents->Raise(BruteForce("user:a"))->id, a->id);
}

TEST_F(IncidentsTest, SeverityOnlyRises) {
  auto incidents = Make();
  IncidentSignal s = BruteForce();
  s.severity = Severity::kMedium;
  ASSERT_OK(incidents->Raise(s));
  s.severity = Severity::kCritical;
  EXPECT_EQ(incidents->Raise(s)->severity, "critical");
  s.severity = Severity::kLow;
  EXPECT_EQ(incidents->Raise(s)->severity, "critical");
  const OpenCounts open = incidents->CountOpen();
  EXPECT_EQ(open[size_t(IncidentKind::kBruteForce)][size_t(Severity::kMedium)], 0u);
  EXPECT_EQ(open[size_t(IncidentKind::kBruteForce)][size_t(Severity::kCritical)], 1u);
}

TEST_F(IncidentsTest, PlaybookSuspendsThePrincipalAndRecordsIt) {
  auto suspensions = std::move(Suspensions::Load(store_.get(), clock_)).value();
  IncidentsOptions o;
  o.playbooks.by_kind[size_t(IncidentKind::kRateAbuse)] = {ResponseAction::kSuspend, ResponseAction::kThrottle};
  o.responders.suspend = [&](const std::string& p, const std::string& why) {
    return suspensions->Suspend(p, why, "system");
  };
  auto incidents = Make(o);
  auto opened = incidents->Raise({IncidentKind::kRateAbuse, Severity::kMedium, "token:ci", "", "", "", {}});
  ASSERT_OK(opened);
  EXPECT_TRUE(suspensions->IsSuspended("token:ci"));
  EXPECT_FALSE(suspensions->IsSuspended("token:other"));
  auto got = incidents->Get(opened->id);
  ASSERT_OK(got);
  ASSERT_EQ(got->actions.size(), 2u);
  EXPECT_EQ(got->actions[0].action, "suspend");
  EXPECT_EQ(got->actions[0].outcome, "suspended token:ci");
  EXPECT_EQ(got->actions[1].action, "throttle_failed");
  EXPECT_EQ(got->actions[1].outcome, "not done: not available in this build");
  // Raised again: merged, not suspended twice.
  EXPECT_EQ(incidents->Raise({IncidentKind::kRateAbuse, Severity::kMedium, "token:ci", "", "", "", {}})->actions.size(),
            2u);
}

// Records what the containing responders were asked to hold, by holder.
struct Held {
  std::map<std::string, std::set<std::string>> throttled, withdrawn;  // target -> holders
  std::vector<std::string> alerts;
  Responders Wire() {
    Responders r;
    r.throttle = [this](const std::string& p, const std::string& holder) {
      throttled[p].insert(holder);
      return Status::Ok();
    };
    r.unthrottle = [this](const std::string& p, const std::string& holder) { throttled[p].erase(holder); };
    r.withdraw = [this](const std::string& m, const std::string& v, const std::string& holder) {
      if (m == "gone") return Status::NotFound("not served");
      withdrawn[m + "/" + v].insert(holder);
      return Status::Ok();
    };
    r.reinstate = [this](const std::string& m, const std::string& v, const std::string& holder) {
      withdrawn[m + "/" + v].erase(holder);
    };
    r.alert = [this](const std::string& json) {
      alerts.push_back(json);
      return Status::Ok();
    };
    r.throttle_rate = "60/m";
    return r;
  }
};

TEST_F(IncidentsTest, ThrottleAndWithdrawHoldUntilResolvedAndComeBackAtStart) {
  Held held;
  IncidentsOptions o;
  o.playbooks.by_kind[size_t(IncidentKind::kExtraction)] = {ResponseAction::kThrottle, ResponseAction::kWithdraw};
  o.responders = held.Wire();
  std::string id;
  {
    auto incidents = Make(o);
    auto opened = incidents->Raise({IncidentKind::kExtraction, Severity::kHigh, "token:x", "iris", "2", "", {}});
    ASSERT_OK(opened);
    id = opened->id;
    EXPECT_EQ(held.throttled["token:x"], std::set<std::string>{id});
    EXPECT_EQ(held.withdrawn["iris/2"], std::set<std::string>{id});
    auto got = incidents->Get(id);
    ASSERT_OK(got);
    ASSERT_EQ(got->actions.size(), 2u);
    EXPECT_EQ(got->actions[0].outcome, "throttled token:x to 60/m while the incident is unresolved");
    EXPECT_EQ(got->actions[1].outcome, "withdrew iris/2 while the incident is unresolved");
  }
  // A restart: throttles and withdrawals live in memory; the record brings them back.
  Held after_restart;
  o.responders = after_restart.Wire();
  auto incidents = Make(o);
  EXPECT_TRUE(after_restart.throttled.empty());
  incidents->ReapplyContainment();
  EXPECT_EQ(after_restart.throttled["token:x"], std::set<std::string>{id});
  EXPECT_EQ(after_restart.withdrawn["iris/2"], std::set<std::string>{id});
  // Acknowledging keeps them; resolving lets go.
  ASSERT_OK(incidents->Acknowledge(id, "user:admin"));
  EXPECT_FALSE(after_restart.throttled["token:x"].empty());
  ASSERT_OK(incidents->Resolve(id, "false alarm", "user:admin"));
  EXPECT_TRUE(after_restart.throttled["token:x"].empty());
  EXPECT_TRUE(after_restart.withdrawn["iris/2"].empty());
  // A resolved incident is not re-applied.
  Held third;
  o.responders = third.Wire();
  Make(o)->ReapplyContainment();
  EXPECT_TRUE(third.throttled.empty() && third.withdrawn.empty());
}

// Two servers sharing one store: what one's playbook holds, the other holds
// on its next sync; resolving on either lets go on both. Syncing again changes
// and audits nothing.
TEST_F(IncidentsTest, ContainmentFollowsTheStoreOnEveryServer) {
  Held held_a, held_b;
  IncidentsOptions o;
  o.playbooks.by_kind[size_t(IncidentKind::kExtraction)] = {ResponseAction::kThrottle, ResponseAction::kWithdraw};
  o.playbooks.by_kind[size_t(IncidentKind::kEngineCrash)] = {ResponseAction::kWithdraw};
  o.responders = held_a.Wire();
  auto a = Make(o);
  o.responders = held_b.Wire();
  auto b = Make(o);
  auto audited = [&] { return audit_->Recent(1000).value().size(); };

  auto opened = a->Raise({IncidentKind::kExtraction, Severity::kHigh, "token:x", "iris", "2", "", {}});
  ASSERT_OK(opened);
  const std::string id = opened->id;
  EXPECT_TRUE(held_b.withdrawn["iris/2"].empty()) << "not before B syncs";
  size_t before = audited();
  b->SyncContainment();
  EXPECT_EQ(held_b.withdrawn["iris/2"], std::set<std::string>{id});
  EXPECT_EQ(held_b.throttled["token:x"], std::set<std::string>{id});
  EXPECT_EQ(audited(), before + 2) << "one event per hold taken";
  EXPECT_EQ(RecentActions(1), std::vector<std::string>{"incident.response"});
  before = audited();
  a->SyncContainment();
  b->SyncContainment();
  b->SyncContainment();
  EXPECT_EQ(audited(), before) << "nothing changed: nothing audited";
  EXPECT_EQ(held_a.withdrawn["iris/2"], std::set<std::string>{id});
  // B already knew the incident: a raise on B merges into it.
  EXPECT_EQ(b->Raise({IncidentKind::kExtraction, Severity::kHigh, "token:x", "iris", "2", "", {}})->id, id);

  // Resolved through B: B lets go at once, A on its next sync, once.
  ASSERT_OK(b->Resolve(id, "false alarm", "user:admin"));
  EXPECT_TRUE(held_b.withdrawn["iris/2"].empty());
  EXPECT_TRUE(held_b.throttled["token:x"].empty());
  EXPECT_FALSE(held_a.withdrawn["iris/2"].empty());
  before = audited();
  a->SyncContainment();
  EXPECT_TRUE(held_a.withdrawn["iris/2"].empty());
  EXPECT_TRUE(held_a.throttled["token:x"].empty());
  EXPECT_EQ(audited(), before + 2) << "one event per hold lifted";
  a->SyncContainment();
  b->SyncContainment();
  EXPECT_EQ(audited(), before + 2);
  EXPECT_EQ(a->CountOpen()[size_t(IncidentKind::kExtraction)][size_t(Severity::kHigh)], 0u);
  // A's cache no longer holds the resolved incident: a new raise opens another.
  auto again = a->Raise({IncidentKind::kExtraction, Severity::kHigh, "token:x", "iris", "2", "", {}});
  ASSERT_OK(again);
  EXPECT_NE(again->id, id);
  b->SyncContainment();
  EXPECT_EQ(held_b.withdrawn["iris/2"], std::set<std::string>{again->id});

  // A version B does not serve ("gone"): the failure is audited once, and the
  // hold is tried again on every sync.
  auto crash = a->Raise({IncidentKind::kEngineCrash, Severity::kHigh, "", "other", "1", "", {}});
  ASSERT_OK(crash);
  Held held_c;
  o.responders = held_c.Wire();
  bool serves = false;
  o.responders.withdraw = [&](const std::string& m, const std::string& v, const std::string& holder) {
    if (!serves) return Status::NotFound("not served");
    held_c.withdrawn[m + "/" + v].insert(holder);
    return Status::Ok();
  };
  auto c = Make(o);
  before = audited();
  c->SyncContainment();
  c->SyncContainment();
  EXPECT_EQ(audited(), before + 3) << "the throttle held, and each withdrawal's failure once";
  EXPECT_TRUE(held_c.withdrawn.empty());
  serves = true;
  c->SyncContainment();
  EXPECT_EQ(held_c.withdrawn["other/1"], std::set<std::string>{crash->id});
  EXPECT_EQ(held_c.withdrawn["iris/2"], std::set<std::string>{again->id});
  EXPECT_EQ(audited(), before + 5);
}

TEST_F(IncidentsTest, ContainmentThatCannotActSaysWhy) {
  Held held;
  IncidentsOptions o;
  o.playbooks.by_kind[size_t(IncidentKind::kEngineCrash)] = {ResponseAction::kThrottle, ResponseAction::kWithdraw};
  o.responders = held.Wire();
  auto incidents = Make(o);
  auto opened = incidents->Raise({IncidentKind::kEngineCrash, Severity::kHigh, "", "gone", "1", "", {}});
  ASSERT_OK(opened);
  auto got = incidents->Get(opened->id);
  ASSERT_OK(got);
  ASSERT_EQ(got->actions.size(), 2u);
  EXPECT_EQ(got->actions[0].action, "throttle_failed");
  EXPECT_EQ(got->actions[0].outcome, "not done: no principal to throttle");
  EXPECT_EQ(got->actions[1].action, "withdraw_failed");
  EXPECT_EQ(got->actions[1].outcome, "not done: not served");
  EXPECT_EQ(incidents->Timings().contain.count, 0u) << "nothing was contained";
}

TEST_F(IncidentsTest, AnAdministratorIsNeverHeldAutomaticallyButIsAlerted) {
  Held held;
  auto suspensions = std::move(Suspensions::Load(store_.get(), clock_)).value();
  IncidentsOptions o;
  o.playbooks.by_kind[size_t(IncidentKind::kExtraction)] = {ResponseAction::kAlert, ResponseAction::kThrottle,
                                                            ResponseAction::kSuspend};
  o.responders = held.Wire();
  o.responders.suspend = [&](const std::string& p, const std::string& why) {
    return suspensions->Suspend(p, why, "system");
  };
  auto incidents = Make(o);
  IncidentSignal signal{IncidentKind::kExtraction, Severity::kHigh, "token:admin", "iris", "1", "", {}};
  signal.administrator = true;
  auto opened = incidents->Raise(signal);
  ASSERT_OK(opened);
  EXPECT_FALSE(suspensions->IsSuspended("token:admin"));
  EXPECT_TRUE(held.throttled.empty());
  EXPECT_EQ(held.alerts.size(), 1u) << "the operators are told";
  auto got = incidents->Get(opened->id);
  ASSERT_OK(got);
  ASSERT_EQ(got->actions.size(), 3u);
  EXPECT_EQ(got->actions[1].action, "throttle_failed");
  EXPECT_EQ(got->actions[2].action, "suspend_failed");
  EXPECT_NE(got->actions[2].outcome.find("an operator decides"), std::string::npos) << got->actions[2].outcome;
  // What did not take is neither re-applied at start nor released on resolve.
  Held restarted;
  o.responders = restarted.Wire();
  Make(o)->ReapplyContainment();
  EXPECT_TRUE(restarted.throttled.empty());
}

TEST_F(IncidentsTest, AlertFiresWhenOpenedAndResolvesWithTheSameFingerprint) {
  Held held;
  IncidentsOptions o;
  o.playbooks.by_kind[size_t(IncidentKind::kBruteForce)] = {ResponseAction::kAlert};
  o.responders = held.Wire();
  auto incidents = Make(o);
  auto opened = incidents->Raise(BruteForce());
  ASSERT_OK(opened);
  ASSERT_EQ(held.alerts.size(), 1u);
  const Json firing = Json::parse(held.alerts[0]);
  EXPECT_EQ(firing["status"], "firing");
  EXPECT_EQ(firing["labels"]["alertname"], "brute_force");
  EXPECT_EQ(firing["labels"]["severity"], "high");
  EXPECT_EQ(firing["labels"]["principal"], "user:alice");
  EXPECT_EQ(firing["labels"]["incident"], opened->id);
  EXPECT_FALSE(firing["labels"].contains("model")) << "empty labels are left out";
  EXPECT_EQ(firing["startsAt"], opened->first_seen);
  EXPECT_EQ(firing["endsAt"], "0001-01-01T00:00:00Z");
  EXPECT_EQ(firing["fingerprint"].get<std::string>().size(), 16u);
  incidents->Raise(BruteForce()).value();
  EXPECT_EQ(held.alerts.size(), 1u) << "raised again: no second alert";
  IncidentSignal worse = BruteForce();
  worse.severity = Severity::kCritical;
  incidents->Raise(worse).value();
  ASSERT_EQ(held.alerts.size(), 2u) << "raised again with a higher severity: alerted again";
  EXPECT_EQ(Json::parse(held.alerts[1])["labels"]["severity"], "critical");
  EXPECT_EQ(Json::parse(held.alerts[1])["status"], "firing");
  held.alerts.erase(held.alerts.begin() + 1);
  clock_.Advance(std::chrono::seconds(90));
  ASSERT_OK(incidents->Resolve(opened->id, "password reset", "user:admin"));
  ASSERT_EQ(held.alerts.size(), 2u);
  const Json resolved = Json::parse(held.alerts[1]);
  EXPECT_EQ(resolved["status"], "resolved");
  EXPECT_EQ(resolved["fingerprint"], firing["fingerprint"]);
  EXPECT_EQ(resolved["endsAt"], FormatRfc3339(clock_.Now()));
  EXPECT_NE(resolved["annotations"]["description"].get<std::string>().find("password reset"), std::string::npos);
}

TEST_F(IncidentsTest, TimingsRunFromEvidenceToDetectionToContainment) {
  Held held;
  IncidentsOptions o;
  o.playbooks.by_kind[size_t(IncidentKind::kExtraction)] = {ResponseAction::kThrottle};
  o.responders = held.Wire();
  auto incidents = Make(o);
  IncidentSignal signal{IncidentKind::kExtraction, Severity::kHigh, "token:x", "iris", "1", "", {}};
  signal.evidence_since = clock_.Now() - std::chrono::seconds(40);
  ASSERT_OK(incidents->Raise(signal));
  ASSERT_OK(incidents->Raise(BruteForce()));  // its own evidence: 0 s; nothing to contain
  const ResponseTimings t = incidents->Timings();
  EXPECT_EQ(t.detect.count, 2u);
  EXPECT_DOUBLE_EQ(t.detect.sum, 40.0);
  EXPECT_EQ(t.detect.buckets[0], 1u) << "the brute force, at 0 s";
  EXPECT_EQ(t.detect.buckets[TimingHistogram::kBounds.size() - 2], 1u) << "40 s: the (30, 60] bucket";
  EXPECT_EQ(t.contain.count, 1u);
  EXPECT_DOUBLE_EQ(t.contain.sum, 0.0) << "a fake clock that did not move";
}

TEST_F(IncidentsTest, PostRaisesOnTheIncidentsThreadAndDropsWhenFull) {
  IncidentsOptions o;
  o.queue_capacity = 4;
  auto incidents = Make(o);
  for (int i = 0; i < 3; ++i) incidents->Post(BruteForce());
  incidents->Drain();
  auto list = incidents->List(std::nullopt, 10);
  ASSERT_OK(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].count, 3);
  EXPECT_EQ(incidents->Dropped(), 0u);
}

TEST(PrincipalNames, OnlyAuditLogNamesAreAccepted) {
  EXPECT_OK(CheckPrincipalName("token:ci"));
  EXPECT_OK(CheckPrincipalName("user:alice"));
  EXPECT_OK(CheckPrincipalName("cert:CN=svc,O=Example"));
  EXPECT_FALSE(CheckPrincipalName("alice").ok());
  EXPECT_FALSE(CheckPrincipalName("token:").ok());
  EXPECT_FALSE(CheckPrincipalName("token:a\nb").ok());
  EXPECT_FALSE(CheckPrincipalName("token:\xc2\x85").ok()) << "C1 control";
  EXPECT_FALSE(CheckPrincipalName("token:" + std::string(300, 'a')).ok());
}

TEST_F(IncidentsTest, SuspensionsPersistAndReinstate) {
  {
    auto s = std::move(Suspensions::Load(store_.get(), clock_)).value();
    ASSERT_OK(s->Suspend("token:ci", "by hand", "user:admin"));
    EXPECT_EQ(s->Suspend("token:ci", "again", "user:admin").code(), StatusCode::kAlreadyExists);
    EXPECT_EQ(s->Suspend("ci", "bad", "user:admin").code(), StatusCode::kInvalidArgument);
  }
  auto s = std::move(Suspensions::Load(store_.get(), clock_)).value();
  EXPECT_TRUE(s->IsSuspended("token:ci"));
  ASSERT_OK(s->Reinstate("token:ci"));
  EXPECT_FALSE(s->IsSuspended("token:ci"));
  EXPECT_EQ(s->Reinstate("token:ci").code(), StatusCode::kNotFound);
}

// Another server sharing the store suspends and reinstates: Reload follows.
TEST_F(IncidentsTest, SuspensionsReloadWhatAnotherServerChanged) {
  auto here = std::move(Suspensions::Load(store_.get(), clock_)).value();
  auto there = std::move(Suspensions::Load(store_.get(), clock_)).value();
  ASSERT_OK(there->Suspend("token:ci", "extraction", "system"));
  EXPECT_FALSE(here->IsSuspended("token:ci"));
  ASSERT_OK(here->Reload());
  EXPECT_TRUE(here->IsSuspended("token:ci"));
  ASSERT_OK(there->Reinstate("token:ci"));
  ASSERT_OK(here->Reload());
  EXPECT_FALSE(here->IsSuspended("token:ci"));
}

}  // namespace
}  // namespace aegis::incident
