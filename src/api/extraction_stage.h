// The extraction detector on the inference path (internal to src/api):
// the request's rows are projected before its inputs go to the engine (they
// are moved there), and observed with the engine's answer. An alarm raises an
// `extraction` incident (high) through the incidents thread, whose playbook
// suspends the credential (docs/threat-detection.md, "Extraction detection").
//
// Thread-safety: an ExtractionWatch belongs to one request; the detector and
// the incidents it points to are shared and safe for concurrent use.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "aegis/api/services.h"
#include "aegis/guard/extraction_detector.h"
#include "aegis/runtime/model_instances.h"

namespace aegis::api::internal {

class ExtractionWatch {
 public:
  ExtractionWatch() = default;
  // Watches `principal`'s requests on `model`; inert when the server has no
  // detector or incidents, or the model's extraction setting is off.
  // `administrator`: the principal holds an admin grant (its incident alerts
  // but never suspends it).
  ExtractionWatch(const Services& services, std::string principal, bool administrator, std::string source,
                  std::string_view model);

  // Before the inputs go to the engine: the rows of the signature's first
  // input (or of the first input sent, when the signature names none).
  void Capture(const runtime::ModelSignature& signature, const std::vector<runtime::Tensor>& inputs);
  // With the engine's answer; raises the incident on an alarm.
  void Observe(const std::string& model, const std::string& version, std::span<const runtime::TensorView> outputs);

 private:
  guard::ExtractionDetector* detector_ = nullptr;
  incident::Incidents* incidents_ = nullptr;
  const Clock* clock_ = nullptr;
  std::string principal_, source_;
  bool administrator_ = false;
  std::optional<guard::ProjectedRows> rows_;
};

}  // namespace aegis::api::internal
