#include "aegis/monitor/monitor.h"

#include "counters.h"
#include "denial_log.h"
#include "timeline.h"

namespace aegis::monitor {
namespace {

// The ticker's period: a bucket's snapshot is at most this late.
constexpr auto kTickPeriod = std::chrono::milliseconds(250);

}  // namespace

std::string_view StageName(Stage stage) {
  switch (stage) {
    case Stage::kTls:
      return "tls";
    case Stage::kAuth:
      return "auth";
    case Stage::kPolicy:
      return "policy";
    case Stage::kGuard:
      return "guard";
    case Stage::kEngine:
      return "engine";
    case Stage::kAudit:
      return "audit";
  }
  return "unknown";
}

std::string_view AuthMethodName(AuthMethod method) {
  switch (method) {
    case AuthMethod::kToken:
      return "token";
    case AuthMethod::kSession:
      return "session";
    case AuthMethod::kJwt:
      return "jwt";
    case AuthMethod::kMtls:
      return "mtls";
    case AuthMethod::kPassword:
      return "password";
    case AuthMethod::kNone:
      return "none";
  }
  return "unknown";
}

Monitor::Monitor(MonitorOptions options)
    : options_(std::move(options)),
      counters_(std::make_unique<internal::Counters>()),
      timeline_(std::make_unique<internal::Timeline>()),
      denials_(std::make_unique<internal::DenialLog>()),
      started_(options_.clock->Now()) {
  (void)internal::Ticks();  // calibrate the stage clock now, not on the first request
  Tick();                   // the first bucket's snapshot: everything counted from here on is in the timeline
}

Monitor::~Monitor() { Stop(); }

void Monitor::Start() {
  MutexLock lock(ticker_mu_);
  if (ticker_) return;
  ticker_.emplace(kTickPeriod, [this]() noexcept { Tick(); });
}

void Monitor::Stop() {
  MutexLock lock(ticker_mu_);
  ticker_.reset();  // wakes and joins the ticker (Tick never takes ticker_mu_)
}

void Monitor::Tick() { timeline_->Tick(*counters_, options_.clock->Now()); }

std::string_view ScrapeListenerName(ScrapeListener listener) {
  return listener == ScrapeListener::kMetrics ? "metrics" : "admin";
}

void Monitor::RequestBegan() { counters_->in_flight.fetch_add(1, std::memory_order_relaxed); }

void Monitor::InferenceCompleted(ModelSeries* series, bool ok, std::chrono::nanoseconds queue_wait, int batch_size) {
  if (series != nullptr) series->CountInference(ok, queue_wait, batch_size);
}

void Monitor::MetricsScraped(ScrapeListener listener) {
  counters_->scrapes[static_cast<size_t>(listener)].fetch_add(1, std::memory_order_relaxed);
}

ModelSeries* Monitor::SeriesFor(const registry::ServedModel& model) {
  ModelSeries* series = counters_->FindOrCreate(model.record.name, model.record.version);
  return series != nullptr ? series : &counters_->unlabeled;
}

void Monitor::RequestEnded(ModelSeries* series, int status, bool denied, std::chrono::nanoseconds latency) {
  ModelSeries* cell = series != nullptr ? series : &counters_->unlabeled;
  counters_->in_flight.fetch_sub(1, std::memory_order_relaxed);
  cell->Count(status);
  cell->latency.Observe(latency);
  const bool refused = denied || status == 401 || status == 403 || status == 429;
  (refused ? counters_->denied : counters_->allowed).fetch_add(1, std::memory_order_relaxed);
}

void Monitor::RequestRejected(int status) {
  counters_->unlabeled.Count(status);
  counters_->denied.fetch_add(1, std::memory_order_relaxed);
}

void Monitor::ObserveStage(Stage stage, std::chrono::nanoseconds duration) {
  counters_->stages[static_cast<size_t>(stage)].Observe(duration);
}

void Monitor::AuthAttempt(AuthMethod method, bool success) {
  counters_->auth[static_cast<size_t>(method)][success ? 0 : 1].fetch_add(1, std::memory_order_relaxed);
}

void Monitor::AuthzDenied() { counters_->authz_denied.fetch_add(1, std::memory_order_relaxed); }

void Monitor::RecordDenial(DenialRecord denial) { denials_->Add(std::move(denial)); }

void Monitor::ResponseTooLarge() { counters_->responses_too_large.fetch_add(1, std::memory_order_relaxed); }

void Monitor::RateLimited(guard::GuardReason reason) {
  const auto index = static_cast<size_t>(reason);
  if (index < counters_->rate_limited.size()) counters_->rate_limited[index].fetch_add(1, std::memory_order_relaxed);
}

void Monitor::RuntimeEvent(runtime::RuntimeEvent::Kind kind) {
  const auto index = static_cast<size_t>(kind);
  if (index < counters_->runtime_events.size())
    counters_->runtime_events[index].fetch_add(1, std::memory_order_relaxed);
}

}  // namespace aegis::monitor
