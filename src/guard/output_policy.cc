// OutputPolicy parsing, naming and the metadata it implies; the transforms
// themselves are in output_transforms.cc. See output_policy.h.
#include "aegis/guard/output_policy.h"

#include <algorithm>

#include "output_policy_internal.h"

namespace aegis::guard {
namespace {

constexpr std::string_view kAccepted =
    "must be \"full\", \"label\", \"top_k:N\" (N from 1 to 1000) or \"round:D\" (D from 0 to 6)";

// A canonical decimal in [min, max]: digits only, no leading zero (but "0").
std::optional<int> SmallNumber(std::string_view digits, int min, int max) {
  if (digits.empty() || digits.size() > 4 || (digits.size() > 1 && digits[0] == '0')) return std::nullopt;
  int v = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v < min || v > max) return std::nullopt;
  return v;
}

}  // namespace

StatusOr<OutputPolicy> ParseOutputPolicy(std::string_view text) {
  using Kind = OutputPolicy::Kind;
  if (text == "full") return OutputPolicy{};
  if (text == "label") return OutputPolicy{Kind::kLabel, 0};
  constexpr std::string_view kTopK = "top_k:";
  constexpr std::string_view kRound = "round:";
  if (text.starts_with(kTopK)) {
    if (auto n = SmallNumber(text.substr(kTopK.size()), 1, OutputPolicy::kMaxTopK)) {
      return OutputPolicy{Kind::kTopK, *n};
    }
  } else if (text.starts_with(kRound)) {
    if (auto d = SmallNumber(text.substr(kRound.size()), 0, OutputPolicy::kMaxDecimals)) {
      return OutputPolicy{Kind::kRound, *d};
    }
  }
  return Status::InvalidArgument(std::string(kAccepted));
}

std::string OutputPolicyName(const OutputPolicy& policy) {
  switch (policy.kind) {
    case OutputPolicy::Kind::kFull:
      return "full";
    case OutputPolicy::Kind::kLabel:
      return "label";
    case OutputPolicy::Kind::kTopK:
      return "top_k:" + std::to_string(policy.param);
    case OutputPolicy::Kind::kRound:
      return "round:" + std::to_string(policy.param);
  }
  return "full";
}

runtime::TensorSpec OutputSpecUnder(const OutputPolicy& policy, const runtime::TensorSpec& output) {
  using Kind = OutputPolicy::Kind;
  runtime::TensorSpec spec = output;
  if (!internal::IsScore(output.datatype) || policy.kind == Kind::kFull || policy.kind == Kind::kRound) return spec;
  spec.datatype = policy.kind == Kind::kTopK ? runtime::DataType::kBytes : runtime::DataType::kInt64;
  if (!spec.rank_known) return spec;
  if (spec.shape.empty()) spec.shape.push_back(1);  // a scalar is one row of one element
  int64_t& last = spec.shape.back();
  if (policy.kind == Kind::kLabel) {
    if (last != 0) last = 1;  // -1 (variable) too: one label per row
  } else if (last >= 0) {
    last = std::min<int64_t>(last, policy.param);
  }
  return spec;
}

}  // namespace aegis::guard
