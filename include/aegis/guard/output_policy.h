// OutputPolicy: how much of a model's scores leave the server (output hardening).
//
// A model's floating-point outputs (class scores, probabilities, logits) are
// what an extraction attack learns from: full-precision scores for every class
// let a client train a copy of the model with few queries (OWASP ML05 model
// theft, ML04 membership inference). Returning less is MITRE ATLAS AML.M0002
// "passive output obfuscation". Per model name in aegis.toml:
//
//   "full"     the outputs as the engine produced them (the default);
//   "top_k:N"  per row (the last dimension), the N highest scores as BYTES
//              "<score>:<index>" strings, highest first, as Triton's and
//              KServe's "classification" extension spells them (1 <= N <= 1000);
//   "label"    per row the index of the highest score, as INT64 (last dim 1);
//   "round:D"  every score rounded to D decimal places (0 <= D <= 6), half away
//              from zero, datatype and shape unchanged.
//
// Only FP16, FP32 and FP64 outputs are transformed: other datatypes are already
// labels, counts or text, and pass unchanged. A rank-0 output is one row of one
// element (top_k and label make it shape [1]); a row of 0 elements gives 0
// results (last dimension 0). Ordering is a total order: NaN ranks below every
// number (-Inf included), equal scores (and +0/-0) by lower index first.
//
// Example:
//   auto policy = ParseOutputPolicy("top_k:3");            // from aegis.toml
//   auto hardened = ApplyOutputPolicy(*policy, view, max);  // after inference
//   if (hardened.ok() && *hardened) encode(**hardened) else encode(view);
//
// Thread-safety: value type and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aegis/common/status.h"
#include "aegis/runtime/tensor.h"

namespace aegis::guard {

struct OutputPolicy {
  enum class Kind : uint8_t { kFull, kTopK, kLabel, kRound };
  static constexpr int kMaxTopK = 1000;
  static constexpr int kMaxDecimals = 6;

  Kind kind = Kind::kFull;
  int param = 0;  // N for kTopK, D for kRound, 0 otherwise

  bool IsFull() const { return kind == Kind::kFull; }
  bool operator==(const OutputPolicy&) const = default;
};

// "full", "label", "top_k:N" or "round:D", exactly (no spaces, no sign, no
// leading zeros). InvalidArgument saying what is accepted otherwise.
StatusOr<OutputPolicy> ParseOutputPolicy(std::string_view text);

// The spelling ParseOutputPolicy reads: "top_k:3".
std::string OutputPolicyName(const OutputPolicy& policy);

// The tensor to return instead of `output` under `policy`, or nullopt when
// `output` goes out as it is (policy "full", or not a floating-point output):
// then nothing is copied. Internal if `output`'s data does not match its shape
// and datatype; TooLarge, before the result is complete, if its data would
// exceed `max_bytes` (a top_k string is longer than the score it replaces, so the
// response limit also bounds what is built here).
StatusOr<std::optional<runtime::Tensor>> ApplyOutputPolicy(const OutputPolicy& policy,
                                                           const runtime::TensorView& output,
                                                           uint64_t max_bytes = UINT64_MAX);

// ApplyOutputPolicy on each of `outputs`, in place: a replaced output's view
// then points at the data of one of the returned tensors, which must outlive
// `outputs` (moving the vector is fine; resizing it is not). Under "full", or
// with no floating-point output, nothing is copied and the result is empty.
// `max_bytes` bounds each result; errors as ApplyOutputPolicy's.
StatusOr<std::vector<runtime::Tensor>> HardenOutputs(const OutputPolicy& policy,
                                                     std::vector<runtime::TensorView>& outputs,
                                                     uint64_t max_bytes = UINT64_MAX);

// What the model's metadata declares for `output` under `policy`: the datatype
// and shape ApplyOutputPolicy produces (a variable last dimension stays -1 for
// top_k). Unchanged for "full", "round:D" and non-floating-point outputs.
runtime::TensorSpec OutputSpecUnder(const OutputPolicy& policy, const runtime::TensorSpec& output);

}  // namespace aegis::guard
