#include "extraction_stage.h"

#include <chrono>
#include <cstdio>
#include <utility>

namespace aegis::api::internal {
namespace {

std::string Fixed(double v, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

}  // namespace

ExtractionWatch::ExtractionWatch(const Services& services, std::string principal, bool administrator,
                                 std::string source, std::string_view model) {
  if (services.extraction == nullptr || services.incidents == nullptr) return;
  if (!services.extraction->SettingsFor(model).enabled) return;
  detector_ = services.extraction;
  incidents_ = services.incidents;
  clock_ = services.clock;
  principal_ = std::move(principal);
  administrator_ = administrator;
  source_ = std::move(source);
}

void ExtractionWatch::Capture(const runtime::ModelSignature& signature, const std::vector<runtime::Tensor>& inputs) {
  if (detector_ == nullptr || inputs.empty()) return;
  const runtime::Tensor* input = &inputs.front();
  if (!signature.inputs.empty()) {
    for (const auto& t : inputs) {
      if (t.name == signature.inputs.front().name) input = &t;
    }
  }
  rows_ = detector_->Project(runtime::TensorView{input->name, input->datatype, input->shape, input->data});
}

void ExtractionWatch::Observe(const std::string& model, const std::string& version,
                              std::span<const runtime::TensorView> outputs) {
  if (detector_ == nullptr || !rows_) return;
  auto alarm = detector_->Observe(principal_, model, *rows_, outputs, clock_->Now());
  if (!alarm) return;
  const bool volume = alarm->signal == guard::ExtractionAlarm::Signal::kVolume;
  incident::IncidentSignal signal;
  signal.kind = incident::IncidentKind::kExtraction;
  signal.severity = incident::Severity::kHigh;
  signal.principal = principal_;
  signal.model = model;
  signal.version = version;
  signal.source = source_;
  signal.administrator = administrator_;
  signal.evidence = {{"signal", volume ? "volume" : "prada"},
                     {"queries", std::to_string(alarm->rows)},
                     {"first_query_at", std::to_string(alarm->first_query_at_ms)},
                     {"detected_at", std::to_string(alarm->detected_at_ms)}};
  if (volume) {
    signal.evidence.emplace_back("max_rows_per_day", Fixed(alarm->threshold, 0));
  } else {
    signal.evidence.emplace_back("w", Fixed(alarm->w, 4));
    signal.evidence.emplace_back("threshold", Fixed(alarm->threshold, 4));
    signal.evidence.emplace_back("window", std::to_string(alarm->window));
  }
  // Time to detect runs from the first row of the window the detector judged.
  using Ms = std::chrono::milliseconds;
  signal.evidence_since = std::chrono::system_clock::time_point(Ms(alarm->first_query_at_ms));
  signal.detected_at = std::chrono::system_clock::time_point(Ms(alarm->detected_at_ms));
  incidents_->Post(std::move(signal));
}

}  // namespace aegis::api::internal
